; Modules a document uses (@module): OCaml has no import statement, a module is used by its name
; (`open Printf`, `Bi_share.Wr.create`, `module S = Map.Make (String)`), and the first element of a
; module path names the file (Bi_share is bi_share.ml).
(module_path . (module_name) @module)

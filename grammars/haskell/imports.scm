; Names a document imports (@name: an import list's entries) and modules it imports (@module: the last
; element of the module name, as its file is named: Data.Map is Map.hs).
(import module: (module (module_id) @module .))
(import_list (import_name (variable) @name))
(import_list (import_name (name) @name))

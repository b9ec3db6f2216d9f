; Names a document imports (@name: an import list's entries) and modules it imports (@module: the last
; element of the module name, as its file is named: Data.Map is Map.hs). The list of
; `import M hiding (a, b)` names what is NOT imported: its entries are no names of the document.
(import module: (module (module_id) @module .))
((import names: (import_list (import_name (variable) @name))) @_import
  (#not-match? @_import "\\bhiding\\s*\\("))
((import names: (import_list (import_name (name) @name))) @_import
  (#not-match? @_import "\\bhiding\\s*\\("))

; Names a document imports (@name) and modules it imports whole (@module).
; `from pkg import mod` names a module too: a @name that is a file's stem selects the whole file.
(import_from_statement name: (dotted_name (identifier) @name .))
(import_from_statement name: (aliased_import name: (dotted_name (identifier) @name .)))
(import_statement name: (dotted_name (identifier) @module .))
(import_statement name: (aliased_import name: (dotted_name (identifier) @module .)))

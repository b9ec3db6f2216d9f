; Names a document imports (@name) and modules it imports whole (@module).
; Shared by typescript and tsx.
(import_specifier name: (identifier) @name)
(import_clause (identifier) @name)
(import_statement source: (string (string_fragment) @module))

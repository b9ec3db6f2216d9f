; Modules (@module: the last element of a module path, as its file is often named) and names (@name:
; the names after the colon of `import A: b, c`, by their own names) that a document imports.
(using_statement (identifier) @module)
(import_statement (identifier) @module)
(using_statement (scoped_identifier (identifier) @module .))
(import_statement (scoped_identifier (identifier) @module .))
(using_statement (import_path (identifier) @module .))
(import_statement (import_path (identifier) @module .))
(import_statement
  (import_alias . [(identifier) @module (scoped_identifier (identifier) @module .) (import_path (identifier) @module .)]))
(selected_import . [(identifier) @module (scoped_identifier (identifier) @module .) (import_path (identifier) @module .)])
(selected_import (_) (identifier) @name)
(selected_import (_) (import_alias . (identifier) @name))

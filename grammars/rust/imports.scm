; Names a document imports (@name) and modules it declares or imports whole (@module).
(use_declaration argument: (scoped_identifier name: (identifier) @name))
(use_declaration argument: (identifier) @module)
(use_list (identifier) @name)
(use_list (scoped_identifier name: (identifier) @name))
(use_as_clause path: (scoped_identifier name: (identifier) @name))
(use_as_clause path: (identifier) @name)
(mod_item name: (identifier) @module)

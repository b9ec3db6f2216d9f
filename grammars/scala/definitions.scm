; Top-level definitions another document may import: the definition and the name it defines (at the
; file's top level or in a `package p { ... }` block).
(compilation_unit (class_definition name: (identifier) @name) @definition)
(compilation_unit (object_definition name: (identifier) @name) @definition)
(compilation_unit (trait_definition name: (identifier) @name) @definition)
(compilation_unit (enum_definition name: (identifier) @name) @definition)
(compilation_unit (function_definition name: (identifier) @name) @definition)
(compilation_unit (val_definition pattern: (identifier) @name) @definition)
(compilation_unit (type_definition name: (type_identifier) @name) @definition)
(package_clause body: (template_body (class_definition name: (identifier) @name) @definition))
(package_clause body: (template_body (object_definition name: (identifier) @name) @definition))
(package_clause body: (template_body (trait_definition name: (identifier) @name) @definition))

; Top-level definitions another document may import: the definition and the name it defines.
(source_file (class_declaration name: (identifier) @name) @definition)
(source_file (object_declaration name: (identifier) @name) @definition)
(source_file (function_declaration name: (identifier) @name) @definition)
(source_file (property_declaration (variable_declaration (identifier) @name)) @definition)
(source_file (type_alias (identifier) @name) @definition)

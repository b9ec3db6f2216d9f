; Top-level definitions another document may import: the definition and the name it defines.
(program (class_declaration name: (identifier) @name) @definition)
(program (interface_declaration name: (identifier) @name) @definition)
(program (enum_declaration name: (identifier) @name) @definition)
(program (record_declaration name: (identifier) @name) @definition)
(program (annotation_type_declaration name: (identifier) @name) @definition)

; Top-level definitions another document may use: the definition and the name it defines.
(source_file (class_declaration name: (type_identifier) @name) @definition)
(source_file (protocol_declaration name: (type_identifier) @name) @definition)
(source_file (function_declaration name: (simple_identifier) @name) @definition)
(source_file (typealias_declaration name: (type_identifier) @name) @definition)
(source_file (property_declaration name: (pattern (simple_identifier) @name)) @definition)

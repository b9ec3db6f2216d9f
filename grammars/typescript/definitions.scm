; Top-level definitions another document may import: the definition and the name it defines.
; Shared by typescript and tsx.
(program (function_declaration name: (identifier) @name) @definition)
(program (class_declaration name: (type_identifier) @name) @definition)
(program (interface_declaration name: (type_identifier) @name) @definition)
(program (type_alias_declaration name: (type_identifier) @name) @definition)
(program (enum_declaration name: (identifier) @name) @definition)
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition)
(program (export_statement
  declaration: [(function_declaration name: (identifier) @name)
                (class_declaration name: (type_identifier) @name)
                (interface_declaration name: (type_identifier) @name)
                (type_alias_declaration name: (type_identifier) @name)
                (enum_declaration name: (identifier) @name)
                (lexical_declaration (variable_declarator name: (identifier) @name))]) @definition)

; Top-level definitions another document may import: the definition and the name it defines.
(program (function_declaration name: (identifier) @name) @definition)
(program (class_declaration name: (identifier) @name) @definition)
(program (lexical_declaration (variable_declarator name: (identifier) @name)) @definition)
(program (export_statement
  declaration: [(function_declaration name: (identifier) @name)
                (class_declaration name: (identifier) @name)
                (lexical_declaration (variable_declarator name: (identifier) @name))]) @definition)

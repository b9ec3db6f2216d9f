; Top-level definitions another document may import: the definition and the name it defines.
(module (function_definition name: (identifier) @name) @definition)
(module (class_definition name: (identifier) @name) @definition)
(module (decorated_definition
  definition: [(function_definition name: (identifier) @name)
               (class_definition name: (identifier) @name)]) @definition)
(module (expression_statement (assignment left: (identifier) @name)) @definition)

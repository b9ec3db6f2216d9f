; Function definitions for the edit commands: the whole definition, its name and its body.
; Shared by typescript and tsx.
(function_declaration name: (identifier) @name body: (statement_block) @body) @function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body) @function
(method_definition name: (property_identifier) @name body: (statement_block) @body) @function
(variable_declarator
  name: (identifier) @name
  value: [(arrow_function body: (statement_block) @body)
          (function_expression body: (statement_block) @body)]) @function

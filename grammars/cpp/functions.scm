; Function definitions for the edit commands: the whole definition, its name (qualified where it is
; written so: Type::method) and its body; a lambda bound to a name counts as a function of that name.
(function_definition declarator: (function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)] @name) body: (compound_statement) @body) @function
(function_definition declarator: (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)] @name)) body: (compound_statement) @body) @function
(function_definition declarator: (reference_declarator (function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)] @name)) body: (compound_statement) @body) @function
(function_definition declarator: (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)] @name))) body: (compound_statement) @body) @function
(declaration declarator: (init_declarator declarator: (identifier) @name
  value: (lambda_expression body: (compound_statement) @body))) @function

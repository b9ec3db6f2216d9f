; Functions for the edit commands: a let binding with parameters, or bound to `fun` or `function`; the
; whole definition (with its `let`), its name and its body.
(value_definition (let_binding pattern: (value_name) @name (parameter) body: (_) @body)) @function
(value_definition
  (let_binding pattern: (value_name) @name body: [(fun_expression) (function_expression)] @body)) @function

; Functions for the edit commands: the whole definition, its name and its body. A `function ... end`
; has no body node (its statements follow the signature): the body is the definition itself. The short
; form `f(x) = expr` has the expression as its body.
(function_definition (signature [(call_expression . (identifier) @name) (call_expression . (field_expression (identifier) @name .)) (where_expression . (call_expression . (identifier) @name)) (typed_expression . (call_expression . (identifier) @name))])) @function @body
(assignment . [(call_expression . (identifier) @name) (where_expression . (call_expression . (identifier) @name))]
  (operator) (_) @body .) @function

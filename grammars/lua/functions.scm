; Function definitions for the edit commands: the whole definition, its name (`f`, `M.f`, `M:f`: the
; last element) and its body.
(function_declaration
  name: [(identifier) @name
         (dot_index_expression field: (identifier) @name)
         (method_index_expression method: (identifier) @name)]
  body: (block) @body) @function

; Top-level definitions another document may require: the definition and the name it defines (a
; module's `function M.f` and `M.x = ...` define f and x).
(chunk (function_declaration
  name: [(identifier) @name
         (dot_index_expression field: (identifier) @name)
         (method_index_expression method: (identifier) @name)]) @definition)
(chunk (variable_declaration (assignment_statement (variable_list . name: (identifier) @name))) @definition)
(chunk (assignment_statement (variable_list . name: [(identifier) @name
                                                    (dot_index_expression field: (identifier) @name)])) @definition)

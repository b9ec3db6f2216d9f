; Function and method bodies that only panic("TODO...").
(block
  (statement_list .
    (expression_statement
      (call_expression
        function: (identifier) @_f (#eq? @_f "panic")
        arguments: (argument_list . (interpreted_string_literal) @_s (#match? @_s "TODO")))) @hole .))

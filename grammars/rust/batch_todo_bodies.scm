; Function bodies that are only todo!() or unimplemented!(), as a tail expression or a statement.
(function_item
  body: (block . (macro_invocation macro: (identifier) @_m (#any-of? @_m "todo" "unimplemented")) @hole .))
(function_item
  body: (block .
    (expression_statement
      (macro_invocation macro: (identifier) @_m (#any-of? @_m "todo" "unimplemented"))) @hole .))

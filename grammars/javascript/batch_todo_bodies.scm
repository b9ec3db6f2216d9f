; Function and method bodies that only throw new Error("TODO...") or hold a lone TODO comment.
(statement_block .
  (throw_statement
    (new_expression
      constructor: (identifier) @_c (#eq? @_c "Error")
      arguments: (arguments . (string) @_s (#match? @_s "TODO")))) @hole .)
(statement_block . (comment) @hole . (#match? @hole "TODO"))

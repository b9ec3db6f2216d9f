; Function bodies whose only statement is a placeholder: pass, ..., raise NotImplementedError.
(function_definition
  body: (block . (pass_statement) @hole .))
(function_definition
  body: (block . (expression_statement (ellipsis)) @hole .))
(function_definition
  body: (block . (raise_statement (identifier) @_e (#eq? @_e "NotImplementedError")) @hole .))
(function_definition
  body: (block . (raise_statement (call function: (identifier) @_e (#eq? @_e "NotImplementedError"))) @hole .))
; The same after a docstring: the docstring stays, the placeholder is filled.
(function_definition
  body: (block . (expression_statement (string)) . (pass_statement) @hole .))
(function_definition
  body: (block . (expression_statement (string)) . (expression_statement (ellipsis)) @hole .))

; Function bodies whose only statement is a placeholder: pass, ..., raise NotImplementedError[(...)].
; A docstring before the placeholder stays, and so does a comment after it; the placeholder is the hole.
; (Written out rather than with `?` quantifiers: tree-sitter drops some optional-node matches that
; carry predicates.)
(function_definition
  body: (block . [(pass_statement) (expression_statement (ellipsis))] @hole .))
(function_definition
  body: (block . [(pass_statement) (expression_statement (ellipsis))] @hole . (comment) .))
(function_definition
  body: (block . (expression_statement (string)) . [(pass_statement) (expression_statement (ellipsis))] @hole .))
(function_definition
  body: (block . (expression_statement (string)) . [(pass_statement) (expression_statement (ellipsis))] @hole . (comment) .))
(function_definition
  body: (block . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole . (comment) .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (expression_statement (string)) . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (expression_statement (string)) . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole . (comment) .)
  (#match? @_e "^NotImplementedError($|\\()"))
; Not stubs: an overload's or a protocol method's `...` (or pass) is its whole definition.
(decorated_definition
  (decorator [(identifier) (attribute attribute: (identifier))] @_d)
  (#match? @_d "(^|\\.)overload$")) @skip
(class_definition
  superclasses: (argument_list [(identifier) (attribute) (subscript value: (_))] @_b)
  (#match? @_b "^([A-Za-z_][A-Za-z_0-9]*\\.)*Protocol($|\\[)")) @skip

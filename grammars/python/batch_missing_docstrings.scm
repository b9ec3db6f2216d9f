; Functions whose body does not open with a string: the docstring goes before the first statement.
(function_definition
  body: (block . (_) @hole.before)
  (#not-match? @hole.before "^[rRbBuUfF]*(\"|')"))
; Overloads are documented at their implementation.
(decorated_definition
  (decorator [(identifier) (attribute attribute: (identifier))] @_d)
  (#match? @_d "(^|\\.)overload$")) @skip

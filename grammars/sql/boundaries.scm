; Statements, column definitions and comments: context may be cut at their start (prefix) or end (suffix).
[
  (statement)
  (column_definition)
  (comment)
  (marginalia)
] @boundary

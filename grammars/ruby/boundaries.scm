; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Ruby's statements are expressions, so every child of a statement list is a boundary.
(program (_) @boundary)
(body_statement (_) @boundary)
(block_body (_) @boundary)
(then (_) @boundary)
(else (_) @boundary)
(do (_) @boundary)
(begin (_) @boundary)
(ensure (_) @boundary)
[
  (method)
  (singleton_method)
  (class)
  (singleton_class)
  (module)
  (comment)
] @boundary

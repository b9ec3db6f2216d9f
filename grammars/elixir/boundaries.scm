; Expression- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Elixir's statements are expressions, so every child of a block or body is a boundary.
(source (_) @boundary)
(do_block (_) @boundary)
(else_block (_) @boundary)
(rescue_block (_) @boundary)
(catch_block (_) @boundary)
(after_block (_) @boundary)
(body (_) @boundary)
(comment) @boundary

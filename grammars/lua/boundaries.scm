; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
(chunk (_) @boundary)
(block (_) @boundary)
(comment) @boundary

; Members and elements: context may be cut at their start (prefix) or end (suffix).
(pair) @boundary
(array (_) @boundary)
(comment) @boundary

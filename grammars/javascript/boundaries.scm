; inherits: ecma
; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
(field_definition) @boundary

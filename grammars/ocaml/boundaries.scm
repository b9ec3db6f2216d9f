; Definition- and expression-level nodes: context may be cut at their start (prefix) or end (suffix).
; OCaml's items are the children of a file, a `struct ... end` or a `sig ... end`; inside a definition,
; a `let ... in` and its body, the parts of a `a; b` sequence and the cases of a match.
(compilation_unit (_) @boundary)
(structure (_) @boundary)
(signature (_) @boundary)
(object_expression (_) @boundary)
(let_expression (_) @boundary)
(sequence_expression (_) @boundary)
(match_case) @boundary
(comment) @boundary

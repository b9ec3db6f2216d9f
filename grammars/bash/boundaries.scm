; Command- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
(program (_) @boundary)
(compound_statement (_) @boundary)
(subshell (_) @boundary)
(do_group (_) @boundary)
(if_statement (_) @boundary)
(elif_clause (_) @boundary)
(else_clause (_) @boundary)
(case_item (_) @boundary)
(comment) @boundary

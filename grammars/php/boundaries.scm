; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
(program (_) @boundary)
(compound_statement (_) @boundary)
(declaration_list (_) @boundary)
(switch_block (_) @boundary)
(colon_block (_) @boundary)
(enum_declaration_list (_) @boundary)
(comment) @boundary

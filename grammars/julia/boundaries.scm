; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Julia has no block node: a body's statements are the children of the definition or statement that
; holds them (after its signature or condition, which are children too).
(source_file (_) @boundary)
(module_definition (_) @boundary)
(function_definition (_) @boundary)
(macro_definition (_) @boundary)
(struct_definition (_) @boundary)
(compound_statement (_) @boundary)
(quote_statement (_) @boundary)
(let_statement (_) @boundary)
(if_statement (_) @boundary)
(elseif_clause (_) @boundary)
(else_clause (_) @boundary)
(for_statement (_) @boundary)
(while_statement (_) @boundary)
(try_statement (_) @boundary)
(catch_clause (_) @boundary)
(finally_clause (_) @boundary)
(do_clause (_) @boundary)
(line_comment) @boundary
(block_comment) @boundary

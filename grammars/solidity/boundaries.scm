; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
(source_file (_) @boundary)
(contract_body (_) @boundary)
(struct_body (_) @boundary)
(enum_body (_) @boundary)
(function_body (_) @boundary)
(block_statement (_) @boundary)
(yul_block (_) @boundary)
(comment) @boundary

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block_mapping) @block
(block_sequence) @block
(flow_mapping) @arguments
(flow_sequence) @arguments
(double_quote_scalar) @string
(single_quote_scalar) @string
(block_scalar) @string
(comment) @comment

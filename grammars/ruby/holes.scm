; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(body_statement) @block
(block_body) @block
(block) @block
(do_block) @block
(then) @block
(else) @block
(do) @block
(hash) @block
(argument_list) @arguments
(method_parameters) @arguments
(block_parameters) @arguments
(lambda_parameters) @arguments
(string) @string
(heredoc_body) @string
(regex) @string
(comment) @comment

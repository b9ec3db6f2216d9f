; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(argument_list) @arguments
(parameters) @arguments
(string) @string
(comment) @comment

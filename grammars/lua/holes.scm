; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(table_constructor) @block
(arguments) @arguments
(parameters) @arguments
(string) @string
(comment) @comment

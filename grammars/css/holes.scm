; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(arguments) @arguments
(string_value) @string
(comment) @comment

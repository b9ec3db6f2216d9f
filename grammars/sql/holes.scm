; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(column_definitions) @block
(list) @arguments
(invocation) @arguments
(literal) @string
(comment) @comment
(marginalia) @comment

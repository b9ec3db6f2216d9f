; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(object) @block
(array) @block
(string) @string
(comment) @comment

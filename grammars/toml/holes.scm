; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(table) @block
(table_array_element) @block
(array) @block
(inline_table) @arguments
(string) @string
(comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(element) @block
(start_tag) @arguments
(quoted_attribute_value) @string
(comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(statement_block) @block
(class_body) @block
(switch_body) @block
(arguments) @arguments
(formal_parameters) @arguments
(string) @string
(template_string) @string
(comment) @comment

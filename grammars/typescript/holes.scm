; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
; Shared by typescript and tsx.
(statement_block) @block
(class_body) @block
(interface_body) @block
(enum_body) @block
(switch_body) @block
(arguments) @arguments
(formal_parameters) @arguments
(type_arguments) @arguments
(string) @string
(template_string) @string
(comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(function_body) @block
(class_body) @block
(enum_class_body) @block
(protocol_body) @block
(lambda_literal) @block
(value_arguments) @arguments
(type_arguments) @arguments
(type_parameters) @arguments
(line_string_literal) @string
(multi_line_string_literal) @string
(comment) @comment
(multiline_comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(class_body) @block
(enum_class_body) @block
(lambda_literal) @block
(value_arguments) @arguments
(function_value_parameters) @arguments
(class_parameters) @arguments
(type_arguments) @arguments
(type_parameters) @arguments
(string_literal) @string
(character_literal) @string
(line_comment) @comment
(block_comment) @comment

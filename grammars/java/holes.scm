; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(constructor_body) @block
(class_body) @block
(interface_body) @block
(enum_body) @block
(annotation_type_body) @block
(switch_block) @block
(argument_list) @arguments
(formal_parameters) @arguments
(type_arguments) @arguments
(type_parameters) @arguments
(annotation_argument_list) @arguments
(string_literal) @string
(character_literal) @string
(line_comment) @comment
(block_comment) @comment

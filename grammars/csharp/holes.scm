; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(declaration_list) @block
(accessor_list) @block
(switch_body) @block
(enum_member_declaration_list) @block
(argument_list) @arguments
(parameter_list) @arguments
(type_argument_list) @arguments
(type_parameter_list) @arguments
(bracketed_argument_list) @arguments
(attribute_argument_list) @arguments
(string_literal) @string
(verbatim_string_literal) @string
(raw_string_literal) @string
(interpolated_string_expression) @string
(character_literal) @string
(comment) @comment

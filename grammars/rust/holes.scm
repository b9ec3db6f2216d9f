; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(declaration_list) @block
(field_declaration_list) @block
(enum_variant_list) @block
(arguments) @arguments
(parameters) @arguments
(type_arguments) @arguments
(string_literal) @string
(raw_string_literal) @string
(char_literal) @string
(line_comment) @comment
(block_comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(block) @block
(field_declaration_list) @block
(argument_list) @arguments
(parameter_list) @arguments
(interpreted_string_literal) @string
(raw_string_literal) @string
(rune_literal) @string
(comment) @comment

; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(compound_statement) @block
(field_declaration_list) @block
(declaration_list) @block
(enumerator_list) @block
(argument_list) @arguments
(parameter_list) @arguments
(template_argument_list) @arguments
(template_parameter_list) @arguments
(string_literal) @string
(raw_string_literal) @string
(char_literal) @string
(system_lib_string) @string
(comment) @comment

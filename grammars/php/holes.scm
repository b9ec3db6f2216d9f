; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(compound_statement) @block
(declaration_list) @block
(switch_block) @block
(colon_block) @block
(enum_declaration_list) @block
(array_creation_expression) @block
(arguments) @arguments
(formal_parameters) @arguments
(string) @string
(encapsed_string) @string
(heredoc) @string
(nowdoc) @string
(comment) @comment

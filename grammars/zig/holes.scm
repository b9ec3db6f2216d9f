; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins. A call's
; arguments have no node of their own in this grammar: the call is the argument hole.
(block) @block
(struct_declaration) @block
(enum_declaration) @block
(union_declaration) @block
(opaque_declaration) @block
(error_set_declaration) @block
(switch_expression) @block
(call_expression) @arguments
(arguments) @arguments
(parameters) @arguments
(initializer_list) @arguments
(string) @string
(multiline_string) @string
(character) @string
(comment) @comment

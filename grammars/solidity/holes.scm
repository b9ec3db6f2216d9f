; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins. A call's
; arguments have no node of their own in this grammar: the call (or the emit) is the argument hole.
(contract_body) @block
(struct_body) @block
(enum_body) @block
(function_body) @block
(block_statement) @block
(yul_block) @block
(call_expression) @arguments
(emit_statement) @arguments
(revert_arguments) @arguments
(tuple_expression) @arguments
(inline_array_expression) @arguments
(return_type_definition) @arguments
(string) @string
(hex_string_literal) @string
(unicode_string_literal) @string
(comment) @comment

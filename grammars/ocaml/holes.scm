; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
; Arguments are applied without brackets in OCaml: a parenthesized expression, a tuple, a list, an
; array or a record is where a bracketed argument is written.
(structure) @block
(signature) @block
(object_expression) @block
(let_expression) @block
(fun_expression) @block
(function_expression) @block
(match_expression) @block
(parenthesized_expression) @arguments
(tuple_expression) @arguments
(list_expression) @arguments
(array_expression) @arguments
(record_expression) @arguments
(string) @string
(quoted_string) @string
(character) @string
(comment) @comment

; Function bodies that are only TODO() or TODO("...") (Kotlin's own stub, IntelliJ's generated body), as
; the block's only statement or as an expression body; and blocks that hold only a TODO comment.
(function_body (block . (call_expression (identifier) @_f . (value_arguments)) @hole .) (#eq? @_f "TODO"))
(function_body (call_expression (identifier) @_f . (value_arguments)) @hole (#eq? @_f "TODO"))
((function_body (block . [(line_comment) (block_comment)] @hole .)) (#match? @hole "TODO"))

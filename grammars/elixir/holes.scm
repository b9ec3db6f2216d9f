; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(do_block) @block
(else_block) @block
(rescue_block) @block
(body) @block
(map) @block
(arguments) @arguments
(string) @string
(charlist) @string
(sigil) @string
(comment) @comment

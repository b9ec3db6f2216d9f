; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(fenced_code_block) @block
(list) @block
(atx_heading) @string
(setext_heading) @string

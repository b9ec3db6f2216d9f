; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(compound_statement) @block
(subshell) @block
(do_group) @block
(test_command) @arguments
(array) @arguments
(string) @string
(raw_string) @string
(ansi_c_string) @string
(heredoc_body) @string
(comment) @comment

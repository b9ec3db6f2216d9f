; Nodes that classify the hole at the cursor; the innermost capture containing the cursor wins.
(do) @block
(class_declarations) @block
(instance_declarations) @block
(local_binds) @block
(alternatives) @block
(exports) @arguments
(import_list) @arguments
(tuple) @arguments
(list) @arguments
(string) @string
(char) @string
(comment) @comment
(haddock) @comment
(pragma) @comment

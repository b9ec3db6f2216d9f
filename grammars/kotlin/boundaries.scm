; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Kotlin's statements are the direct children of a file, a class body, a block or a lambda.
(source_file (_) @boundary)
(class_body (_) @boundary)
(enum_class_body (_) @boundary)
(block (_) @boundary)
(lambda_literal (_) @boundary)
(line_comment) @boundary
(block_comment) @boundary

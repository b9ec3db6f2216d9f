; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Swift's statements are the direct children of a file, a statement list or a type's body.
(source_file (_) @boundary)
(statements (_) @boundary)
(class_body (_) @boundary)
(enum_class_body (_) @boundary)
(protocol_body (_) @boundary)
(comment) @boundary
(multiline_comment) @boundary

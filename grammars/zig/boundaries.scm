; Statement- and declaration-level nodes: context may be cut at their start (prefix) or end (suffix).
; A Zig file is a struct: its declarations are the children of the file, as a container's are its.
(source_file (_) @boundary)
(block (_) @boundary)
(struct_declaration (_) @boundary)
(enum_declaration (_) @boundary)
(union_declaration (_) @boundary)
(opaque_declaration (_) @boundary)
(switch_expression (switch_case) @boundary)
(comment) @boundary

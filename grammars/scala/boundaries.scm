; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Scala's statements are the direct children of a file, a template body (class, object, trait, package
; block), a block, an indented block (Scala 3) or a match's cases.
(compilation_unit (_) @boundary)
(template_body (_) @boundary)
(with_template_body (_) @boundary)
(enum_body (_) @boundary)
(block (_) @boundary)
(indented_block (_) @boundary)
(case_block (_) @boundary)
(indented_cases (_) @boundary)
(comment) @boundary
(block_comment) @boundary

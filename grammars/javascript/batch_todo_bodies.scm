; Function and method bodies that only throw new Error("...") with a placeholder message (TODO, FIXME,
; "not implemented", "implement me", ...) or hold a lone TODO comment. A specific message ("nameprep is
; not supported") says why it throws: it is deliberate, not a hole.
(statement_block .
  (throw_statement
    (new_expression
      constructor: (identifier) @_c (#eq? @_c "Error")
      arguments: (arguments . [(string) (template_string)] @_s
        (#match? @_s "(?is)^(\"|'|`)(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"|'|`)$")))) @hole .)
; A function's body that is only a TODO comment (not an if, loop or catch block). The predicate sits outside
; the body: written after its last anchor, inside it, it would let the anchor go (the comment would match
; before other statements too).
((function_declaration body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))
((function_expression body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))
((arrow_function body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))
((method_definition body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))
((generator_function_declaration body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))
((generator_function body: (statement_block . (comment) @hole .)) (#match? @hole "TODO"))

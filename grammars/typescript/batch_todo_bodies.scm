; Function and method bodies that only throw new Error("...") with a placeholder message (TODO, FIXME,
; "not implemented", "implement me", ...) or hold a lone TODO comment. A specific message ("nameprep is
; not supported") says why it throws: it is deliberate, not a hole.
(statement_block .
  (throw_statement
    (new_expression
      constructor: (identifier) @_c (#eq? @_c "Error")
      arguments: (arguments . [(string) (template_string)] @_s
        (#match? @_s "(?is)^(\"|'|`)(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"|'|`)$")))) @hole .)
(statement_block . (comment) @hole . (#match? @hole "TODO"))

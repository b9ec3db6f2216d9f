; Function bodies that are only `revert` with a placeholder message (TODO, "not implemented", ...), and
; bodies that hold only a TODO comment. A specific message says why it reverts: deliberate, not a hole.
((function_body .
  (statement
    (revert_statement error: (expression (parenthesized_expression (expression (string_literal . (string) @_s .)))))) @hole .)
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
((function_body . (comment) @hole .) (#match? @hole "TODO"))

; Equations whose right-hand side is only `undefined` or `error` with a placeholder message (TODO,
; FIXME, "not implemented", ...). A specific message says why it fails: deliberate, not a hole.
(function match: (match expression: (variable) @hole (#eq? @hole "undefined")))
(bind match: (match expression: (variable) @hole (#eq? @hole "undefined")))
(function match: (match expression: (apply function: (variable) @_e argument: (literal (string) @_s)) @hole)
  (#eq? @_e "error")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(bind match: (match expression: (apply function: (variable) @_e argument: (literal (string) @_s)) @hole)
  (#eq? @_e "error")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))

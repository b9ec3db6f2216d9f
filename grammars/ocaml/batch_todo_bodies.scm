; Definitions whose body is only `failwith` (or `raise (Failure ...)`) with a placeholder message (TODO,
; FIXME, "not implemented", ...). A specific message says why it fails: deliberate, not a hole.
(let_binding
  body: (application_expression function: (value_path) @_f argument: (string) @_s) @hole
  (#match? @_f "^(Stdlib\\.)?failwith$")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(let_binding
  body: (application_expression
    function: (value_path) @_f
    argument: (parenthesized_expression
      (application_expression function: (constructor_path) @_c argument: (string) @_s))) @hole
  (#match? @_f "^(Stdlib\\.)?raise$")
  (#eq? @_c "Failure")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))

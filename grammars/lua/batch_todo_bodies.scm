; Function bodies that only raise error() with a placeholder message (TODO, FIXME, "not implemented",
; ...). A specific message ("not supported for sockets") says why it
; fails: it is deliberate, not a hole.
(function_declaration
  body: (block . (function_call
    name: (identifier) @_e
    arguments: (arguments . (string) @_s)) @hole .)
  (#eq? @_e "error")
  (#match? @_s "(?is)^[\"'](.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)[\"']$"))
(function_definition
  body: (block . (function_call
    name: (identifier) @_e
    arguments: (arguments . (string) @_s)) @hole .)
  (#eq? @_e "error")
  (#match? @_s "(?is)^[\"'](.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)[\"']$"))

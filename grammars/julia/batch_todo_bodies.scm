; Function bodies that are only `error` (or `throw(ErrorException(...))`) with a placeholder message
; (TODO, FIXME, "not implemented", ...), in a `function ... end` or as the short form's expression, and
; `function ... end` bodies that hold only a TODO comment. A specific message says why it fails:
; deliberate, not a hole.
(function_definition (signature) .
  (call_expression . (identifier) @_f (argument_list . (string_literal) @_s .)) @hole .
  (#eq? @_f "error")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(assignment . [(call_expression) (where_expression)] (operator)
  (call_expression . (identifier) @_f (argument_list . (string_literal) @_s .)) @hole .
  (#eq? @_f "error")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition (signature) .
  (call_expression . (identifier) @_t
    (argument_list . (call_expression . (identifier) @_e (argument_list . (string_literal) @_s .)) .)) @hole .
  (#eq? @_t "throw")
  (#eq? @_e "ErrorException")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
((function_definition (signature) . [(line_comment) (block_comment)] @hole .) (#match? @hole "TODO"))

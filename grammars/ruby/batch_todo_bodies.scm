; Method bodies whose only statement is `raise NotImplementedError` (bare, `.new`, or with a placeholder
; message: TODO, "not implemented", ...), or that hold only a TODO comment. A raise with a specific
; message ("#{self.class} must implement #call") is Ruby's abstract-method idiom: deliberate, not a
; hole (@skip).
(method
  body: (body_statement . (call method: (identifier) @_r arguments: (argument_list . (constant) @_e)) @hole .)
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError"))
(singleton_method
  body: (body_statement . (call method: (identifier) @_r arguments: (argument_list . (constant) @_e)) @hole .)
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError"))
(method
  body: (body_statement . (call method: (identifier) @_r
    arguments: (argument_list . (call receiver: (constant) @_e method: (identifier) @_n))) @hole .)
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError") (#eq? @_n "new"))
(singleton_method
  body: (body_statement . (call method: (identifier) @_r
    arguments: (argument_list . (call receiver: (constant) @_e method: (identifier) @_n))) @hole .)
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError") (#eq? @_n "new"))
(method !body (comment) @hole . (#match? @hole "^#\\s*TODO\\b"))
(singleton_method !body (comment) @hole . (#match? @hole "^#\\s*TODO\\b"))
(call
  method: (identifier) @_r
  arguments: (argument_list . (constant) @_e . (string) @_m)
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError")
  (#not-match? @_m "(?is)^[\"'](.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)[\"']$")) @skip
(call
  method: (identifier) @_r
  arguments: (argument_list . (call receiver: (constant) @_e arguments: (argument_list . (string) @_m)))
  (#eq? @_r "raise") (#eq? @_e "NotImplementedError")
  (#not-match? @_m "(?is)^[\"'](.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)[\"']$")) @skip

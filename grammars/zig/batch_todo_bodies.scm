; Function bodies that are only `@panic` with a placeholder message (TODO, "not implemented", ...), after
; any `_ = x;` that discards an unused parameter; and bodies that hold only a TODO comment. A specific
; message says why it panics: deliberate, not a hole.
(function_declaration
  body: (block .
    (expression_statement
      (builtin_function (builtin_identifier) @_p (arguments . (string) @_s .))) @hole .)
  (#eq? @_p "@panic")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_declaration
  body: (block .
    ((variable_declaration . (identifier) @_u) (#eq? @_u "_"))+ .
    (expression_statement
      (builtin_function (builtin_identifier) @_p (arguments . (string) @_s .))) @hole .)
  (#eq? @_p "@panic")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
((function_declaration body: (block . (comment) @hole .)) (#match? @hole "TODO"))

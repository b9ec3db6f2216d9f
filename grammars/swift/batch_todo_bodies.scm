; Function bodies that only call fatalError("TODO") / fatalError("not implemented") (a placeholder
; message), or hold only a TODO comment. A specific message (Xcode's fatalError("init(coder:) has not been
; implemented"), or any reason) says the function is meant to trap: deliberate, not a hole.
(function_body
  (statements .
    (call_expression
      (simple_identifier) @_f
      (call_suffix (value_arguments . (value_argument (line_string_literal) @_s) .))) @hole .)
  (#eq? @_f "fatalError")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
((function_body . [(comment) (multiline_comment)] @hole .) (#match? @hole "TODO"))

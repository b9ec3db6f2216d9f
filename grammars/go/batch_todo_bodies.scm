; Function and method bodies that only panic with a placeholder message (TODO, FIXME, "not implemented",
; "unimplemented", ...). A specific message says why it panics: it is deliberate, not a hole.
(block
  (statement_list .
    (expression_statement
      (call_expression
        function: (identifier) @_f (#eq? @_f "panic")
        arguments: (argument_list . [(interpreted_string_literal) (raw_string_literal)] @_s
          (#match? @_s "(?is)^(\"|`)(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"|`)$")))) @hole .))

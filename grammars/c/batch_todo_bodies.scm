; Function bodies that hold only a TODO comment, or only assert(0 && "...") / assert(!"...") with a
; placeholder message (TODO, "not implemented", ...). An assert with a specific message is deliberate.
(function_definition
  body: (compound_statement . (comment) @hole .)
  (#match? @hole "TODO"))
(function_definition
  body: (compound_statement .
    (expression_statement
      (call_expression
        function: (identifier) @_f
        arguments: (argument_list . (binary_expression right: (string_literal) @_s) .))) @hole .)
  (#eq? @_f "assert")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition
  body: (compound_statement .
    (expression_statement
      (call_expression
        function: (identifier) @_f
        arguments: (argument_list . (unary_expression argument: (string_literal) @_s) .))) @hole .)
  (#eq? @_f "assert")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))

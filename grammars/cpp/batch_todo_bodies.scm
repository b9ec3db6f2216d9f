; Function bodies that only throw std::logic_error / std::runtime_error (or a not-implemented exception
; type) with a placeholder message (TODO, "not implemented", ...), that hold only a TODO comment, or only
; assert(0 && "...") / assert(!"...") with a placeholder message. A specific message is deliberate.
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
(function_definition
  body: (compound_statement .
    (throw_statement
      (call_expression
        function: [(identifier) (qualified_identifier)] @_c
        arguments: (argument_list . (string_literal) @_s .))) @hole .)
  (#match? @_c "(^|::)(logic_error|runtime_error|exception|[A-Za-z_]*[Nn]ot_?[Ii]mplemented[A-Za-z_]*)$")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition
  body: (compound_statement .
    (throw_statement
      (call_expression
        function: [(identifier) (qualified_identifier)] @_c
        arguments: (argument_list) @_a)) @hole .)
  (#match? @_c "(^|::)[A-Za-z_]*[Nn]ot_?[Ii]mplemented[A-Za-z_]*$")
  (#eq? @_a "()"))
(function_definition
  body: (compound_statement .
    (throw_statement
      (call_expression
        function: [(identifier) (qualified_identifier)] @_c
        arguments: (argument_list . (string_literal) @_s .))) @hole . (comment) .)
  (#match? @_c "(^|::)(logic_error|runtime_error|exception|[A-Za-z_]*[Nn]ot_?[Ii]mplemented[A-Za-z_]*)$")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition
  body: (compound_statement .
    (throw_statement
      (call_expression
        function: [(identifier) (qualified_identifier)] @_c
        arguments: (argument_list) @_a)) @hole . (comment) .)
  (#match? @_c "(^|::)[A-Za-z_]*[Nn]ot_?[Ii]mplemented[A-Za-z_]*$")
  (#eq? @_a "()"))

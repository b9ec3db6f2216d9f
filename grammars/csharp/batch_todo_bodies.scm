; Method, constructor and accessor bodies that only throw new NotImplementedException() (Visual Studio's
; generated stub) or throw it with a placeholder message (TODO, "not implemented", ...), and bodies that
; hold only a TODO comment. A specific message, or NotSupportedException, says the member is meant to throw.
(block .
  (throw_statement
    (object_creation_expression
      type: [(identifier) (qualified_name)] @_c
      arguments: (argument_list) @_a)) @hole .
  (#match? @_c "(^|\\.)NotImplementedException$")
  (#eq? @_a "()"))
(block .
  (throw_statement
    (object_creation_expression
      type: [(identifier) (qualified_name)] @_c
      arguments: (argument_list . (argument [(string_literal) (verbatim_string_literal)] @_s) .))) @hole .
  (#match? @_c "(^|\\.)NotImplementedException$")
  (#match? @_s "(?is)^[$@]*\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(block .
  (throw_statement
    (object_creation_expression
      type: [(identifier) (qualified_name)] @_c
      arguments: (argument_list) @_a)) @hole . (comment) .
  (#match? @_c "(^|\\.)NotImplementedException$")
  (#eq? @_a "()"))
(block .
  (throw_statement
    (object_creation_expression
      type: [(identifier) (qualified_name)] @_c
      arguments: (argument_list . (argument [(string_literal) (verbatim_string_literal)] @_s) .))) @hole . (comment) .
  (#match? @_c "(^|\\.)NotImplementedException$")
  (#match? @_s "(?is)^[$@]*\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(arrow_expression_clause
  (throw_expression
    (object_creation_expression
      type: [(identifier) (qualified_name)] @_c
      arguments: (argument_list) @_a)) @hole
  (#match? @_c "(^|\\.)NotImplementedException$")
  (#eq? @_a "()"))
((block . (comment) @hole .) (#match? @hole "TODO"))

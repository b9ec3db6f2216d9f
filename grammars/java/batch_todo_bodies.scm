; Method and constructor bodies that only throw a placeholder: new UnsupportedOperationException("TODO"),
; ("Not implemented yet"), ("Not supported yet.") (NetBeans' generated stub, with or without its comment
; after), new NotImplementedException() (Apache Commons), or that hold only a TODO comment. A specific
; message ("remove is not supported by this view") or a bare new UnsupportedOperationException() (an
; unmodifiable collection's add) says the method is meant to throw: deliberate, not a hole.
(block .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)(UnsupportedOperationException|RuntimeException|IllegalStateException|Error|AssertionError|NotImplementedException)$")
      arguments: (argument_list . (string_literal) @_s . (#match? @_s "(?is)^(\"\"\"|\")(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"\"\"|\")$")))) @hole .)
(block .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)(UnsupportedOperationException|RuntimeException|IllegalStateException|Error|AssertionError|NotImplementedException)$")
      arguments: (argument_list . (string_literal) @_s . (#match? @_s "(?is)^(\"\"\"|\")(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"\"\"|\")$")))) @hole . (line_comment) .)
(block .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)NotImplementedException$")
      arguments: (argument_list) @_a (#eq? @_a "()"))) @hole .)
(block .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)NotImplementedException$")
      arguments: (argument_list) @_a (#eq? @_a "()"))) @hole . (line_comment) .)
((block . [(line_comment) (block_comment)] @hole .) (#match? @hole "TODO"))
(constructor_body .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)(UnsupportedOperationException|RuntimeException|IllegalStateException|Error|AssertionError|NotImplementedException)$")
      arguments: (argument_list . (string_literal) @_s . (#match? @_s "(?is)^(\"\"\"|\")(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"\"\"|\")$")))) @hole .)
(constructor_body .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)(UnsupportedOperationException|RuntimeException|IllegalStateException|Error|AssertionError|NotImplementedException)$")
      arguments: (argument_list . (string_literal) @_s . (#match? @_s "(?is)^(\"\"\"|\")(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"\"\"|\")$")))) @hole . (line_comment) .)
(constructor_body .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)NotImplementedException$")
      arguments: (argument_list) @_a (#eq? @_a "()"))) @hole .)
(constructor_body .
  (throw_statement
    (object_creation_expression
      type: [(type_identifier) (scoped_type_identifier)] @_c (#match? @_c "(^|\\.)NotImplementedException$")
      arguments: (argument_list) @_a (#eq? @_a "()"))) @hole . (line_comment) .)
((constructor_body . [(line_comment) (block_comment)] @hole .) (#match? @hole "TODO"))

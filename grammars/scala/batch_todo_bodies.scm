; Method bodies that are only `???` (Scala's own placeholder), only a throw of a placeholder message
; (new NotImplementedError("TODO"), new UnsupportedOperationException("not implemented")), only
; new NotImplementedError with no message, or only a TODO comment; as the block's one statement or as
; the expression after `=`. A specific message says the method is meant to throw: deliberate, not a hole.
(function_definition body: (operator_identifier) @hole (#eq? @hole "???"))
(function_definition body: (block . (operator_identifier) @hole .) (#eq? @hole "???"))
(function_definition
  body: (throw_expression
    (instance_expression [(type_identifier) (stable_type_identifier)] @_c
      arguments: (arguments . (string) @_s .))) @hole
  (#match? @_c "(^|\\.)(NotImplementedError|UnsupportedOperationException|RuntimeException|IllegalStateException|Exception|Error)$")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition
  body: (block .
    (throw_expression
      (instance_expression [(type_identifier) (stable_type_identifier)] @_c
        arguments: (arguments . (string) @_s .))) @hole .)
  (#match? @_c "(^|\\.)(NotImplementedError|UnsupportedOperationException|RuntimeException|IllegalStateException|Exception|Error)$")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done|not\\s+supported\\s+yet)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(function_definition body: (throw_expression (instance_expression) @_i) @hole
  (#match? @_i "^new\\s+(scala\\.)?NotImplementedError\\s*(\\(\\s*\\))?$"))
(function_definition body: (block . (throw_expression (instance_expression) @_i) @hole .)
  (#match? @_i "^new\\s+(scala\\.)?NotImplementedError\\s*(\\(\\s*\\))?$"))
((function_definition body: (block . [(comment) (block_comment)] @hole .)) (#match? @hole "TODO"))

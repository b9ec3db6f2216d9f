; Function and method bodies that only throw an exception with a placeholder message (TODO, FIXME,
; "not implemented", "implement me", ...) or hold a lone TODO comment. A specific message ("q is not
; available on K") says why it throws: it is deliberate, not a hole; abstract methods have no body.
(compound_statement .
  (expression_statement
    (throw_expression
      (object_creation_expression
        [(name) (qualified_name)] @_c (#match? @_c "(Exception|Error)$")
        (arguments . (argument [(string) (encapsed_string)] @_s
          (#match? @_s "(?is)^[\"'](.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)[\"']$")))))) @hole .)
((compound_statement . (comment) @hole .) (#match? @hole "TODO"))  ; the predicate outside: the anchors hold

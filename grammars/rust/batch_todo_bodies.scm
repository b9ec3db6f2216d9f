; Function bodies that are only todo!() or unimplemented!(), as a tail expression or a statement.
; unimplemented!("a specific reason") says why it will never be implemented: deliberate, not a hole
; (only no message or a placeholder one: TODO, "not implemented", ...).
(function_item
  body: (block . (macro_invocation macro: (identifier) @_m (#any-of? @_m "todo" "unimplemented")) @hole .))
(function_item
  body: (block .
    (expression_statement
      (macro_invocation macro: (identifier) @_m (#any-of? @_m "todo" "unimplemented"))) @hole .))
(function_item
  body: (block . (macro_invocation macro: (identifier) @_m (token_tree) @_t) .) @skip
  (#eq? @_m "unimplemented")
  (#not-match? @_t "(?is)^\\(\\s*(\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"\\s*,?\\s*)?\\)$"))
(function_item
  body: (block . (expression_statement (macro_invocation macro: (identifier) @_m (token_tree) @_t)) .) @skip
  (#eq? @_m "unimplemented")
  (#not-match? @_t "(?is)^\\(\\s*(\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"\\s*,?\\s*)?\\)$"))

; Function bodies (def, defp) that only raise a placeholder message (TODO, FIXME, "not implemented",
; ...) or hold a lone TODO comment. A specific message says why it raises: deliberate, not a hole.
(call
  target: (identifier) @_def
  (do_block . (call target: (identifier) @_raise (arguments . (string) @_s .)) @hole .)
  (#any-of? @_def "def" "defp")
  (#eq? @_raise "raise")
  (#match? @_s "(?is)^\"(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)\"$"))
(call
  target: (identifier) @_def
  (do_block . (comment) @hole .)
  (#any-of? @_def "def" "defp")
  (#match? @hole "^#\\s*TODO\\b"))

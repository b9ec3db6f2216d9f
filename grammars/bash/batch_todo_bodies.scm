; Function bodies that hold only a TODO comment and the `:` no-op that keeps them valid: the comment is
; the hole (the no-op stays harmless after the fill).
(function_definition
  body: (compound_statement . (comment) @hole . (command name: (command_name) @_noop) .)
  (#match? @hole "^#\\s*(TODO|FIXME)\\b")
  (#eq? @_noop ":"))

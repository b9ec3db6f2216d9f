; Function and macro definitions (def, defp, defmacro, defmacrop) with a do block, for the edit
; commands: the whole definition, its name (also behind a guard) and its body.
(call
  target: (identifier) @_def
  (arguments [(call target: (identifier) @name)
              (binary_operator left: (call target: (identifier) @name))
              (identifier) @name])
  (do_block) @body
  (#any-of? @_def "def" "defp" "defmacro" "defmacrop")) @function

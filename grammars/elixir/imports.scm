; Modules a document aliases, imports, requires or uses (@name: the module's full name, as its
; defmodule names it; `alias A.{B, C}` names B and C).
(call
  target: (identifier) @_kind
  (arguments . [(alias) @name (dot right: (tuple (alias) @name))])
  (#any-of? @_kind "alias" "import" "require" "use"))

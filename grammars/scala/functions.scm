; Method definitions for the edit commands: the whole definition, its name and its body (a block, an
; indented block or the one expression after `=`).
(function_definition name: (identifier) @name body: (_) @body) @function

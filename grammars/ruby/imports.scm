; Files a document loads (@module: the required path, whose last element names the file).
(call
  method: (identifier) @_load
  arguments: (argument_list . (string (string_content) @module))
  (#any-of? @_load "require" "require_relative" "load" "autoload"))

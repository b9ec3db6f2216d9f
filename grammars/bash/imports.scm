; Files a script sources (@module: the path, whose last element names the file).
(command
  name: (command_name (word) @_source)
  .
  argument: [(word) @module (string (string_content) @module .) (raw_string) @module]
  (#any-of? @_source "source" "."))

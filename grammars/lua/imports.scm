; Modules a document requires (@module; a dotted module path names its first element).
(function_call
  name: (identifier) @_require
  arguments: (arguments . (string content: (string_content) @module))
  (#eq? @_require "require"))

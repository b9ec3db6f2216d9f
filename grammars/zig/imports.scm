; Files a document imports (@module: the path of `@import("buf_map.zig")`, whose stem names the file)
; and names it takes from an import (@name: `const BufMap = @import("buf_map.zig").BufMap;`).
((builtin_function (builtin_identifier) @_b (arguments . (string (string_content) @module) .))
  (#eq? @_b "@import"))
((field_expression object: (builtin_function (builtin_identifier) @_b) member: (identifier) @name)
  (#eq? @_b "@import"))

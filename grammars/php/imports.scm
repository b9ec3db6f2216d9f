; Names a document imports (@name: the last element of a `use`d class, function or constant) and
; files it includes (@module: the path, whose last element names the file).
(namespace_use_clause . (name) @name)
(namespace_use_clause . (qualified_name (name) @name .))
(require_expression [(string (string_content) @module) (encapsed_string (string_content) @module)])
(require_expression (binary_expression right: [(string (string_content) @module) (encapsed_string (string_content) @module)]))
(require_once_expression [(string (string_content) @module) (encapsed_string (string_content) @module)])
(require_once_expression (binary_expression right: [(string (string_content) @module) (encapsed_string (string_content) @module)]))
(include_expression [(string (string_content) @module) (encapsed_string (string_content) @module)])
(include_expression (binary_expression right: [(string (string_content) @module) (encapsed_string (string_content) @module)]))
(include_once_expression [(string (string_content) @module) (encapsed_string (string_content) @module)])
(include_once_expression (binary_expression right: [(string (string_content) @module) (encapsed_string (string_content) @module)]))

; Rules, at-rules, declarations and comments: context may be cut at their start (prefix) or end (suffix).
[
  (rule_set)
  (declaration)
  (media_statement)
  (import_statement)
  (charset_statement)
  (namespace_statement)
  (keyframes_statement)
  (supports_statement)
  (at_rule)
  (comment)
] @boundary

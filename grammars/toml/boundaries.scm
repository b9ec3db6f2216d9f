; Tables and key/value pairs: context may be cut at their start (prefix) or end (suffix).
[
  (table)
  (table_array_element)
  (pair)
  (comment)
] @boundary

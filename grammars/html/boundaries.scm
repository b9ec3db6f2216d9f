; Elements and comments: context may be cut at their start (prefix) or end (suffix).
[
  (doctype)
  (element)
  (script_element)
  (style_element)
  (comment)
] @boundary

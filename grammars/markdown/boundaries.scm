; Blocks: context may be cut at their start (prefix) or end (suffix).
[
  (atx_heading)
  (setext_heading)
  (paragraph)
  (list_item)
  (fenced_code_block)
  (indented_code_block)
  (block_quote)
  (thematic_break)
  (html_block)
  (pipe_table)
] @boundary

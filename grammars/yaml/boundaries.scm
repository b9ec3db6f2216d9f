; Mapping pairs, sequence items and documents: context may be cut at their start (prefix) or end (suffix).
[
  (document)
  (block_mapping_pair)
  (block_sequence_item)
  (comment)
] @boundary

; inherits: c
; C's boundaries, and the nodes C++ adds.
[
  (class_specifier)
  (namespace_definition)
  (template_declaration)
  (using_declaration)
  (alias_declaration)
  (field_declaration)
  (access_specifier)
  (for_range_loop)
  (try_statement)
  (throw_statement)
  (static_assert_declaration)
  (concept_definition)
  (linkage_specification)
  (co_return_statement)
  (friend_declaration)
] @boundary

; inherits: ecma
; Statement- and definition-level nodes: context may be cut at their start (prefix) or end (suffix).
; Shared by typescript and tsx.
[
  (abstract_class_declaration)
  (interface_declaration)
  (type_alias_declaration)
  (enum_declaration)
  (ambient_declaration)
  (public_field_definition)
] @boundary

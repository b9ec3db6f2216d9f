; Top-level definitions another document may import: the definition and the name it defines (also
; those of a braced namespace block).
(program (function_definition name: (name) @name) @definition)
(program (class_declaration name: (name) @name) @definition)
(program (interface_declaration name: (name) @name) @definition)
(program (trait_declaration name: (name) @name) @definition)
(program (enum_declaration name: (name) @name) @definition)
(program (const_declaration (const_element (name) @name)) @definition)
(namespace_definition body: (compound_statement [
  (function_definition name: (name) @name)
  (class_declaration name: (name) @name)
  (interface_declaration name: (name) @name)
  (trait_declaration name: (name) @name)
  (enum_declaration name: (name) @name)] @definition))

; Top-level definitions another document may import: the definition and the name it defines.
(source_file (function_item name: (identifier) @name) @definition)
(source_file (struct_item name: (type_identifier) @name) @definition)
(source_file (enum_item name: (type_identifier) @name) @definition)
(source_file (trait_item name: (type_identifier) @name) @definition)
(source_file (type_item name: (type_identifier) @name) @definition)
(source_file (const_item name: (identifier) @name) @definition)
(source_file (static_item name: (identifier) @name) @definition)
(source_file (impl_item type: (type_identifier) @name) @definition)

; Top-level definitions another module may import: the definition and the name it defines (a type
; signature is one too, so the signature travels with its equations).
(declarations (signature name: (variable) @name) @definition)
(declarations (function name: (variable) @name) @definition)
(declarations (bind name: (variable) @name) @definition)
(declarations (data_type name: (name) @name) @definition)
(declarations (newtype name: (name) @name) @definition)
(declarations (type_synonym name: (name) @name) @definition)
(declarations (class name: (name) @name) @definition)

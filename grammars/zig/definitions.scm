; Top-level declarations another file may import (a Zig file is a struct: its declarations are its
; members): the declaration and the name it declares.
(source_file (function_declaration name: (identifier) @name) @definition)
(source_file (variable_declaration . (identifier) @name) @definition)

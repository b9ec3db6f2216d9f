; Top-level definitions another document may load: the definition and the name it defines.
; A file's definitions usually sit inside one namespace module: those one level in count as top-level.
(program (method name: (_) @name) @definition)
(program (singleton_method name: (_) @name) @definition)
(program (class name: [(constant) @name (scope_resolution name: (constant) @name)]) @definition)
(program (assignment left: (constant) @name) @definition)
(program (module body: (body_statement
  (class name: [(constant) @name (scope_resolution name: (constant) @name)]) @definition)))
(program (module body: (body_statement
  (module name: [(constant) @name (scope_resolution name: (constant) @name)]) @definition)))
(program (module body: (body_statement (method name: (_) @name) @definition)))
(program (module body: (body_statement (singleton_method name: (_) @name) @definition)))
(program (module body: (body_statement (assignment left: (constant) @name) @definition)))

; Top-level definitions another module may use: the definition and the name it defines.
(compilation_unit (value_definition (let_binding pattern: (value_name) @name)) @definition)
(compilation_unit (type_definition (type_binding name: (type_constructor) @name)) @definition)
(compilation_unit (module_definition (module_binding (module_name) @name)) @definition)
(compilation_unit (module_type_definition (module_type_name) @name) @definition)
(compilation_unit (exception_definition (constructor_declaration (constructor_name) @name)) @definition)
(compilation_unit (external (value_name) @name) @definition)
(compilation_unit (class_definition (class_binding (class_name) @name)) @definition)

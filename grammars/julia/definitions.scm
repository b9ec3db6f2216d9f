; Top-level definitions another file may use (in the file or in its module): the definition and the
; name it defines.
(source_file (function_definition (signature [(call_expression . (identifier) @name) (where_expression . (call_expression . (identifier) @name)) (typed_expression . (call_expression . (identifier) @name))])) @definition)
(source_file (assignment . [(call_expression . (identifier) @name) (where_expression . (call_expression . (identifier) @name))]) @definition)
(source_file (macro_definition (signature (call_expression . (identifier) @name))) @definition)
(source_file (struct_definition (type_head [(identifier) @name (parametrized_type_expression . (identifier) @name) (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])])) @definition)
(source_file (abstract_definition (type_head [(identifier) @name (parametrized_type_expression . (identifier) @name) (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])])) @definition)
(source_file (const_statement (assignment . (identifier) @name)) @definition)
(module_definition (function_definition (signature [(call_expression . (identifier) @name) (where_expression . (call_expression . (identifier) @name)) (typed_expression . (call_expression . (identifier) @name))])) @definition)
(module_definition (assignment . [(call_expression . (identifier) @name) (where_expression . (call_expression . (identifier) @name))]) @definition)
(module_definition (macro_definition (signature (call_expression . (identifier) @name))) @definition)
(module_definition (struct_definition (type_head [(identifier) @name (parametrized_type_expression . (identifier) @name) (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])])) @definition)
(module_definition (abstract_definition (type_head [(identifier) @name (parametrized_type_expression . (identifier) @name) (binary_expression . [(identifier) @name (parametrized_type_expression . (identifier) @name)])])) @definition)
(module_definition (const_statement (assignment . (identifier) @name)) @definition)

; Top-level definitions another script may source: functions and variables, and the names they define.
(program (function_definition name: (word) @name) @definition)
(program (variable_assignment name: (variable_name) @name) @definition)
(program (declaration_command (variable_assignment name: (variable_name) @name)) @definition)

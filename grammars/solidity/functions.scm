; Functions and modifiers for the edit commands: the whole definition, its name and its body (a
; constructor has no name).
(function_definition name: (identifier) @name body: (function_body) @body) @function
(modifier_definition name: (identifier) @name body: (function_body) @body) @function
(constructor_definition body: (function_body) @body) @function

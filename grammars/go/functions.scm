; Function definitions for the edit commands: the whole definition, its name and its body.
(function_declaration name: (identifier) @name body: (block) @body) @function
(method_declaration name: (field_identifier) @name body: (block) @body) @function

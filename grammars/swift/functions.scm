; Function definitions for the edit commands: the whole definition, its name and its body.
(function_declaration name: (simple_identifier) @name body: (function_body) @body) @function

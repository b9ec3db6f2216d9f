; Function definitions for the edit commands: the whole definition, its name and its body.
(function_declaration name: (identifier) @name (function_body (block) @body)) @function

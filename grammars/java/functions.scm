; Function definitions for the edit commands: the whole definition, its name and its body.
(method_declaration name: (identifier) @name body: (block) @body) @function
(constructor_declaration name: (identifier) @name body: (constructor_body) @body) @function

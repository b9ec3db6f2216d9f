; Function definitions for the edit commands: the whole definition, its name and its body.
(function_definition
  name: (identifier) @name
  body: (block) @body) @function

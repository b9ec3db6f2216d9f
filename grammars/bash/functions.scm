; Function definitions for the edit commands: the whole definition, its name and its body.
(function_definition name: (word) @name body: (compound_statement) @body) @function

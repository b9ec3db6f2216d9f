; Function and method definitions for the edit commands: the whole definition, its name and its body.
(function_definition name: (name) @name body: (compound_statement) @body) @function
(method_declaration name: (name) @name body: (compound_statement) @body) @function

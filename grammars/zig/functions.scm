; Function declarations for the edit commands: the whole declaration, its name and its body.
(function_declaration name: (identifier) @name body: (block) @body) @function

; Method definitions for the edit commands: the whole definition, its name and its body.
(method name: (_) @name body: (_) @body) @function
(singleton_method name: (_) @name body: (_) @body) @function

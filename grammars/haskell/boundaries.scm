; Declaration- and statement-level nodes: context may be cut at their start (prefix) or end (suffix).
(header) @boundary
(imports (_) @boundary)
(declarations (_) @boundary)
(class_declarations (_) @boundary)
(instance_declarations (_) @boundary)
(local_binds (_) @boundary)
(do (_) @boundary)
(alternatives (_) @boundary)
(comment) @boundary
(haddock) @boundary
(pragma) @boundary

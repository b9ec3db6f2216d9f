; Namespaces a document uses (@module: a namespace's last part, which names its folder by convention).
(using_directive (qualified_name name: (identifier) @module))
(using_directive . (identifier) @module .)

; inherits: javascript
; Shared by typescript and tsx, after the JavaScript captures: the nodes TypeScript adds.
(interface_body) @block
(enum_body) @block
(type_arguments) @arguments

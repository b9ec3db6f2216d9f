; Function and value bindings for the edit commands: the whole equation, its name and its right-hand
; side (one equation of several is one function here).
(function name: (variable) @name match: (match) @body) @function
(bind name: (variable) @name match: (match) @body) @function

; Files a document imports (@module: the path of `import "./Ownable.sol"`, whose stem names the file)
; and the names it takes from them (@name: `import {Ownable, Context as C} from ...`, by their own names).
(import_directive source: (string) @module)
(import_directive import_name: (identifier) @name)

; Names a document imports (@name: the class or function an import names; `import a.b.*` names none).
((import (qualified_identifier (identifier) @name .)) @_import
  (#not-match? @_import "\\*\\s*$"))

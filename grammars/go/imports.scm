; Packages a document imports (@module: the import path; its last element names the package).
(import_spec path: (interpreted_string_literal) @module)

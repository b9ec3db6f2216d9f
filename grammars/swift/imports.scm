; Modules a document imports (@module: a module is the folder of its sources).
(import_declaration (identifier) @module)

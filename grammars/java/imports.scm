; Names a document imports (@name: the class or member an import names; `import a.b.*` names none).
(import_declaration (scoped_identifier name: (identifier) @name))

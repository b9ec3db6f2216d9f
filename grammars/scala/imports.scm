; Names a document imports (@name): the last element of `import a.b.C`, each selector of
; `import a.b.{C, D => E}` by its own name (D: the name another file defines); `import a.b._` names none,
; nor does a selector that hides a name (`{F => _}`).
(import_declaration (identifier) @name .)
(namespace_selectors (identifier) @name)
(namespace_selectors (arrow_renamed_identifier name: (identifier) @name alias: (identifier)))
(namespace_selectors (as_renamed_identifier name: (identifier) @name alias: (identifier)))

; The statement- and definition-level nodes JavaScript and TypeScript share (not a language of the table:
; javascript/ and typescript/ inherit this file and add their own nodes).
[
  (function_declaration)
  (generator_function_declaration)
  (class_declaration)
  (method_definition)
  (lexical_declaration)
  (variable_declaration)
  (expression_statement)
  (import_statement)
  (export_statement)
  (if_statement)
  (for_statement)
  (for_in_statement)
  (while_statement)
  (do_statement)
  (try_statement)
  (switch_statement)
  (return_statement)
  (throw_statement)
  (comment)
] @boundary

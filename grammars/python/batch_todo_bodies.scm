; Function bodies whose only statement is a placeholder: pass, ..., raise NotImplementedError[(...)].
; A docstring before the placeholder stays, and so does a comment after it; the placeholder is the hole.
; (Written out rather than with `?` quantifiers: tree-sitter drops some optional-node matches that
; carry predicates.)
(function_definition
  body: (block . [(pass_statement) (expression_statement (ellipsis))] @hole .))
(function_definition
  body: (block . [(pass_statement) (expression_statement (ellipsis))] @hole . (comment) .))
(function_definition
  body: (block . (expression_statement (string)) . [(pass_statement) (expression_statement (ellipsis))] @hole .))
(function_definition
  body: (block . (expression_statement (string)) . [(pass_statement) (expression_statement (ellipsis))] @hole . (comment) .))
(function_definition
  body: (block . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole . (comment) .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (expression_statement (string)) . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole .)
  (#match? @_e "^NotImplementedError($|\\()"))
(function_definition
  body: (block . (expression_statement (string)) . (raise_statement [(identifier) (call function: (identifier))] @_e) @hole . (comment) .)
  (#match? @_e "^NotImplementedError($|\\()"))
; Not stubs, but definitions whose body is the design (@skip):
; - an overload's or a protocol method's `...` (or pass) is its whole definition;
; - an abstract method (@abstractmethod and kin) or any method of a class based on ABC / Protocol
;   (or with metaclass=ABCMeta) is meant to raise or do nothing;
; - `raise NotImplementedError("a specific message")` says why it will never be implemented; only a
;   bare raise or a placeholder message (TODO, FIXME, "not implemented", "implement me", ...) is a hole;
; - a raise the docstring documents (":raises NotImplementedError:", a Raises section naming it,
;   "always raises") is the documented behaviour.
(decorated_definition
  (decorator [(identifier) (attribute attribute: (identifier))] @_d)
  (#match? @_d "(^|\\.)(overload|abstractmethod|abstractproperty|abstractclassmethod|abstractstaticmethod)$")) @skip
(class_definition
  superclasses: (argument_list [(identifier) (attribute) (subscript value: (_))] @_b)
  (#match? @_b "^([A-Za-z_][A-Za-z_0-9]*\\.)*(Protocol|ABC)($|\\[)")) @skip
(class_definition
  superclasses: (argument_list (keyword_argument name: (identifier) @_k value: (_) @_v))
  (#eq? @_k "metaclass")
  (#match? @_v "(^|\\.)ABCMeta$")) @skip
(raise_statement
  (call function: (identifier) @_e arguments: (argument_list . (_) @_m))
  (#eq? @_e "NotImplementedError")
  (#not-match? @_m "(?is)^[a-z]*(\"\"\"|'''|\"|')(.*\\b(todo|fixme|xxx|tbd)\\b.*|\\s*(((this|the)\\s+)?((function|method|feature)\\s+)?((is|was)\\s+)?(not\\s+(yet\\s+)?implemented|unimplemented|not\\s+(yet\\s+)?done)(\\s+yet)?|implement(ed)?(\\s+(me|this|it))?(\\s+later)?|to\\s*do|later|stub|placeholder|coming\\s+soon|wip)?[\\s.!:]*)(\"\"\"|'''|\"|')$")) @skip
(block . (expression_statement (string) @_doc) . (raise_statement) @skip
  (#match? @_doc "(?is)\\braises?\\b.{0,120}?\\bNotImplementedError\\b|\\balways\\s+raises?\\b"))

; Top-level definitions another document may alias or import: modules, named by their full name.
(source (call target: (identifier) @_defmodule (arguments . (alias) @name) (#eq? @_defmodule "defmodule")) @definition)

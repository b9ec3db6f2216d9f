"""Tools above the engine and the language server: benchmarks, the HumanEval evaluation, load generation,
and builders of tiny test models. They may import ``engine``, ``training`` and ``infill_lsp``;
neither of those imports them."""

# The two commands of the README, and a few more for developers.
.PHONY: demo test lint setup

# Set everything up and fill the holes of a sample file through the engine, with timings.
demo:
	@bash scripts/setup.sh
	@.venv/bin/infill demo

# Set everything up and run the whole test suite (CI runs exactly this).
test:
	@bash scripts/test.sh

lint:
	@bash scripts/setup.sh --dev
	@.venv/bin/ruff check infill_lsp engine infill_http training grammars tests infill_tools

setup:
	@bash scripts/setup.sh --dev

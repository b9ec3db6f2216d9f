"""The infill diffusion engine: ``core/`` (the step machine), ``prompt/`` (formats, tokenizer), ``model/``
(checkpoints, runners), ``host/`` (the engine process), ``clients/`` (how editors reach it), and the wire
format (``protocol``). Training lives in the top-level ``training`` package; HTTP in ``infill_http``."""

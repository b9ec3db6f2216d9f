"""The engine's step machine: EngineCore, its sampler, the KV cache store, its config and the runner interface."""

"""The infill diffusion engine: model directories, runners, sampler, scheduler, the process that hosts
them, and how to launch one (``engine.launch``, ``engine.connect``). Training lives in ``engine.training``."""

"""The infill diffusion engine: model, sampler, scheduler, and the process that hosts them."""

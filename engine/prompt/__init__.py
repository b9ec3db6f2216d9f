"""Prompts: the fill-in-the-middle layout, the prompt formats of formats.toml, and the tokenizer."""

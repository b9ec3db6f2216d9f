"""Training the embedded model: corpus, tokenizer, objectives, and the training loop."""

"""Model directories: architecture, checkpoint loading, the memory plan, --check, and the torch and ONNX runners."""

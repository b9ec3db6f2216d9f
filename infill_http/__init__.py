"""The HTTP front-ends over the engine: llama.cpp /infill, OpenAI and Mistral FIM, the engine WebSocket, Ray Serve."""

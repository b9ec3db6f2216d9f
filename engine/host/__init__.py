"""The engine process: the Unix socket server, the loop thread over EngineCore, launch settings, control."""

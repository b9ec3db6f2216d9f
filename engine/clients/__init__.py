"""Clients of an engine: the interface, in-process, Unix socket and remote (WebSocket) clients, and connect."""

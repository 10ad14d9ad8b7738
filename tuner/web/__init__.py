"""The HTTP and WebSocket face of tuner (Quart-Trio on Hypercorn)."""

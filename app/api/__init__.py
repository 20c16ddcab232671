"""The HTTP API: the same assistant and reviewer as the CLI and the UI, behind FastAPI."""

"""Errors the command line reports as one line, importable without the libraries that raise them (so a command
that needs none of them starts fast)."""


class ModelLoadError(Exception):
    """The embedding model could not be loaded; the message says which and why."""

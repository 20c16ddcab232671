"""The history's error, importable without the database libraries (the CLI catches it on every command)."""


class HistoryError(ValueError):
    """A history request that cannot be met; the message names the problem and what exists."""

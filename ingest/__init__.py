"""Ingest WAF guidance: load -> split -> embed -> index."""
__version__ = "0.1.0"

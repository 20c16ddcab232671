"""Ingest WAF guidance: load -> split -> embed -> index (the index backends live in index/)."""

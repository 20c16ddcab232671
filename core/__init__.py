"""Shared pieces of the ingest job, the index backends and the app: settings, documents, pillars, text,
embeddings and the retry policy. Imports nothing from index/, ingest/, app/ or eval/."""
__version__ = "0.1.0"

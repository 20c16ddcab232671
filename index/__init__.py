"""The index backends: FAISS on disk (the default) and Azure AI Search, behind one seam (index.backend)."""

"""Per-shop knowledge: entries, import, storage, indexing, retrieval and the offline embedder."""

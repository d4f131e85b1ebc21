"""Per-shop knowledge: entries (types), their import and export (files/), embedding models
(models/), storage in Redis and bounded in-memory indexes (storage/), and search over them
(tokens, units, index, retrieval, hints), behind KnowledgeBase (knowledge)."""

"""Embedding models: the Embedder Protocol and its sentence-transformers backend (embedder), the
ONNX Runtime backend (onnx_embedder, onnx_export), and the offline e5 assembled from pinned PyPI
files (assets, e5convert)."""

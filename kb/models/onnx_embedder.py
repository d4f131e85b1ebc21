"""An Embedder on ONNX Runtime: the Rust tokenizer and an optimised graph, no torch at all.

Reads a folder made by kb.models.onnx_export. Texts are sorted by length before batching so that a
batch pads to similar lengths; mean pooling honours the attention mask, as sentence-transformers
does, so vectors match the torch backend.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.errors import ModelError
from kb.models.embedder import QueryCache, Role, Vectors


class OnnxEmbedder:
    def __init__(
        self,
        model_dir: Path,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        query_cache_size: int = 2048,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        self.threads = threads
        self.cache = QueryCache(query_cache_size)
        self._session: Any = None
        self._tokenizer: Any = None
        self._config: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        self._load_config()
        return str(self._config["name"])

    def warm_up(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            self._load_config()
            try:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                if self.threads:
                    options.intra_op_num_threads = self.threads
                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tokenizer.enable_truncation(self._config["max_seq_length"])
                self._session = ort.InferenceSession(
                    str(self.model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(
                    f"cannot load the ONNX embedder at {self.model_dir}: {exc}"
                ) from exc

    def _load_config(self) -> None:
        if self._config:
            return
        try:
            self._config = json.loads(
                (self.model_dir / "embedder.json").read_text(encoding="utf-8")
            )
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"no ONNX embedder at {self.model_dir}; run `copilot setup` first"
            ) from exc

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        return self.cache.embed(texts, role, lambda todo: self._encode(todo, role))

    def _encode(self, texts: Sequence[str], role: Role) -> Vectors:
        self.warm_up()
        prefix = self._config["prompts"][role]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self._config["hidden_size"]), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([prefix + texts[i] for i in chunk])
        return out

    def _run(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self._config["pad_token_id"], dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        states = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

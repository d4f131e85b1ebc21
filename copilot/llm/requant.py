"""The drafting LLM re-quantised to IQ4_NL, derived at setup from the pinned Q4_K_M GGUF.

Why: Qwen2.5-0.5B's rows are 896 wide, not a multiple of 256, so the Q4_K_M file keeps 133 of
its 170 matrices in Q5_0, and llama.cpp has no repacked (8x8, AVX2) kernel for Q5_0; IQ4_NL
works in 32-wide blocks and has one. On 2 AVX2 cores the 339-token draft prompt evaluates at
168 instead of 97 tokens/s. Drafts stay as usable: on 28 demo-shop questions 23 vs 22 passed
the drafting checks, grounded share 0.97 vs 0.93, the same text on most; JDDC reply
log-likelihood did not get worse (mean NLL 5.53 vs 5.59). Q4_0 was as fast but broke drafts
(it echoed the prompt), Q8_0 only 1.3x faster. (Figures: bench/README.md.)

The file is made by llama.cpp's own quantiser (llama_model_quantize). It is not pinned by a
sha256 of its own, since another llama.cpp build may round differently; its source is pinned,
and its sidecar records both the source's sha256 and its own, so a damaged file, or one made
from another source, is rebuilt.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kb.errors import ModelIntegrityError
from kb.models.assets import sha256_file

REQUANT_FILENAME = "qwen2.5-coder-0.5b-instruct-iq4_nl.gguf"


def requantise(source: Path, dest: Path, *, progress: bool = True) -> str:
    """Write dest (replacing it) as source re-quantised to IQ4_NL; return dest's sha256."""
    import llama_cpp
    from tqdm import tqdm

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_IQ4_NL
    params.allow_requantize = True  # the source is quantised already
    params.nthread = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tqdm(total=1, desc="requantise gguf (IQ4_NL)", disable=not progress) as bar:
            with _quiet_stderr():  # llama.cpp logs a line per tensor
                code = llama_cpp.llama_model_quantize(
                    str(source).encode(), str(tmp).encode(), ctypes.byref(params)
                )
            bar.update(1)
        if code != 0:
            raise ModelIntegrityError(f"llama.cpp could not requantise {source} (code {code})")
        tmp.chmod(0o644)  # mkstemp makes it private; services may run as another user
        digest = sha256_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return digest


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C code writes there directly, past sys.stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

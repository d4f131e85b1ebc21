"""LLM backends behind the drafting Generator Protocol (copilot/llm/drafting.py).

    LlamaCppGenerator     llama-cpp-python, in-process, the GGUF as is (the default: fastest on CPU)
    TransformersGenerator transformers, in-process; the GGUF dequantised once into a safetensors
                          cache, because dequantising takes over a minute on every load
    OpenAIHTTPGenerator   any OpenAI-compatible server (copilot/llm/openai_http.py): GPU scale-out

Each loads lazily in an idempotent warm_up() (stream() calls it), so constructing one is free and
`import copilot` never pulls in torch or llama_cpp. Every failure leaves as GenerationError
(GenerationTimeout when the server is too slow), chained to the library's own exception.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

from copilot.errors import GenerationError
from copilot.llm.drafting import ChatMessage, Generator
from copilot.llm.openai_http import OpenAIHTTPGenerator, as_dicts
from copilot.llm.prefix_cache import (
    PrefixReuse,
    PrefixStateCache,
    chat_formatter,
    chat_tokens,
    common_prefix,
)

BackendName: TypeAlias = Literal["llama_cpp", "transformers", "openai"]
LLAMA_CPP_PIP = 'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python==0.3.36'


def available_cores() -> int:
    """Cores this process may run on (a container's share, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def apply_stop_sequences(pieces: Iterable[str], stop: Sequence[str]) -> Iterator[str]:
    """Pass pieces through until one of the stop strings appears; the stop string is dropped.

    For backends without native stop support. Text that might be the start of a stop string is
    held back until the next piece decides, so a stop split across pieces is still caught.
    """
    stops = [s for s in stop if s]
    if not stops:
        yield from pieces
        return
    pending = ""
    for piece in pieces:
        pending += piece
        hits = [pending.find(s) for s in stops if s in pending]
        if hits:
            if min(hits) > 0:
                yield pending[: min(hits)]
            return
        keep = _partial_stop_length(pending, stops)
        if len(pending) > keep:
            yield pending[: len(pending) - keep]
            pending = pending[len(pending) - keep :]
    if pending:
        yield pending


def _partial_stop_length(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of text that is the beginning of a stop string."""
    sizes = (n for stop in stops for n in range(1, len(stop)) if text.endswith(stop[:n]))
    return max(sizes, default=0)


class LlamaCppGenerator:
    """The GGUF through llama-cpp-python, with the chat template stored in the GGUF.

    One context serves every conversation; the KV states of recent drafts are kept
    (copilot/llm/prefix_cache.py), so a conversation's next draft evaluates only its new turns,
    material and message, even after drafts for other conversations in between.
    """

    def __init__(
        self,
        gguf_path: Path,
        *,
        n_ctx: int = 2048,
        threads: int | None = None,
        n_batch: int = 512,
        seed: int = 0,
        flash_attn: bool = True,
        prefix_cache_bytes: int = 64 * 2**20,
    ) -> None:
        self.gguf_path = Path(gguf_path)
        self.n_ctx = n_ctx
        self.threads = threads or available_cores()
        self.n_batch = n_batch
        self.seed = seed
        self.flash_attn = flash_attn
        self.prefix_cache = PrefixStateCache(max_bytes=prefix_cache_bytes)
        self._llm: Any = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        # One llama context decodes one sequence at a time: concurrent drafts take turns.
        self._use_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"llama.cpp:{self.gguf_path.name}"

    @property
    def llama(self) -> Any:
        """The loaded llama_cpp.Llama (for tokenising and benchmarks)."""
        self.warm_up()
        return self._llm

    @property
    def last_prefix_reuse(self) -> PrefixReuse:
        """How many of the last draft's prompt tokens were already evaluated."""
        return self.prefix_cache.last

    def warm_up(self) -> None:
        with self._load_lock:
            if self._llm is not None:
                return
            if not self.gguf_path.is_file():
                raise GenerationError(f"no GGUF at {self.gguf_path} (run `copilot setup`)")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise GenerationError(
                    f"llama-cpp-python is not installed: {LLAMA_CPP_PIP}"
                ) from exc
            try:
                llm = Llama(
                    model_path=str(self.gguf_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    n_threads_batch=self.threads,
                    n_batch=self.n_batch,
                    # one fused op instead of several: fewer thread barriers. Prompt evaluation
                    # ~5% faster on 2 idle cores, ~1.6x when other processes share the cores
                    flash_attn=self.flash_attn,
                    # Read, not mapped: llama.cpp repacks most IQ4_NL matrices into a copy, and
                    # the mapped pages it read them from would stay resident too (RSS +706 MB
                    # mapped against +517 MB read, 339-token context).
                    use_mmap=False,
                    seed=self.seed,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise GenerationError(f"cannot load {self.gguf_path}: {exc}") from exc
            self._formatter = chat_formatter(llm)
            self._llm = llm

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The tokens a draft for messages evaluates (the GGUF's chat template applied)."""
        self.warm_up()
        if self._formatter is None:
            raise GenerationError(f"{self.name}: the GGUF has no chat template")
        return chat_tokens(self._llm, self._formatter, as_dicts(messages))

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        self.warm_up()
        with self._use_lock:
            try:
                self._reuse_prefix(messages)
                chunks = self._llm.create_chat_completion(
                    messages=as_dicts(messages),
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop) or None,
                    stream=True,
                )
                for chunk in chunks:
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        yield content
            except (ValueError, RuntimeError, KeyError, IndexError) as exc:
                raise GenerationError(f"{self.name} failed: {exc}") from exc
            finally:  # also when the consumer stops early: what was evaluated stays reusable
                if self._formatter is not None:
                    self.prefix_cache.remember(self._llm)

    def prefill(self, messages: Sequence[ChatMessage]) -> int:
        """Evaluate messages' prompt up to the end of the last one's text, generating nothing,
        and keep the state: a draft whose prompt starts so evaluates only the rest. Returns
        the tokens evaluated; 0 at once when a draft holds the model (it is never kept
        waiting for this) or the GGUF has no chat template."""
        self.warm_up()
        if self._formatter is None or not messages or not self._use_lock.acquire(blocking=False):
            return 0
        try:
            prompt = self._formatter(messages=as_dicts(messages)).prompt
            content = messages[-1].content
            end = prompt.rfind(content) + len(content) if content in prompt else len(prompt)
            tokens = self._llm.tokenize(prompt[:end].encode("utf-8"), add_bos=False, special=True)
            self._reuse_prefix(messages, tokens)
            done = common_prefix(self._llm.input_ids[: self._llm.n_tokens], tokens)
            self._llm.n_tokens = done  # eval() drops the KV cells from here on
            if done < len(tokens):
                self._llm.eval(tokens[done:])
            self.prefix_cache.remember(self._llm)
            return len(tokens) - done
        except (ValueError, RuntimeError) as exc:
            raise GenerationError(f"{self.name} prefill failed: {exc}") from exc
        finally:
            self._use_lock.release()

    def _reuse_prefix(
        self, messages: Sequence[ChatMessage], prompt: Sequence[int] | None = None
    ) -> None:
        """Restore the saved state sharing the longest prefix with this prompt, if any."""
        if self._formatter is None:
            return
        if prompt is None:
            prompt = self.prompt_tokens(messages)
        # Every message but the last (the rules and the worked examples) is the same for every
        # conversation: sharing them, or a few tokens past them (a stock greeting), is not yet
        # the same conversation, and must not let one customer's draft drop another's state.
        fixed = list(messages[:-1])
        shared = common_prefix(self.prompt_tokens(fixed), prompt) if fixed else 0
        self.prefix_cache.prepare(self._llm, prompt, supersede_after=shared + 32)


class TransformersGenerator:
    """The same GGUF through transformers: dequantised once, then loaded from safetensors."""

    def __init__(self, gguf_path: Path, cache_dir: Path) -> None:
        self.gguf_path = Path(gguf_path)
        self.model_dir = Path(cache_dir) / f"{self.gguf_path.stem}-hf"
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"transformers:{self.gguf_path.stem}"

    def warm_up(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                if not _is_complete(self.model_dir, self.gguf_path):
                    self._dequantise()
                self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
                model = AutoModelForCausalLM.from_pretrained(self.model_dir)
            except ImportError as exc:
                raise GenerationError(f"transformers backend unavailable: {exc}") from exc
            except (OSError, ValueError, RuntimeError) as exc:
                raise GenerationError(f"cannot load {self.model_dir}: {exc}") from exc
            self._model = model.eval()

    def _dequantise(self) -> None:
        """GGUF -> safetensors folder, built beside the target and renamed into place."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not self.gguf_path.is_file():
            raise GenerationError(f"no GGUF at {self.gguf_path} (run `copilot setup`)")
        where, file = self.gguf_path.parent, self.gguf_path.name
        self.model_dir.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".dequant-", dir=self.model_dir.parent))
        try:
            AutoTokenizer.from_pretrained(where, gguf_file=file).save_pretrained(scratch)
            model = AutoModelForCausalLM.from_pretrained(where, gguf_file=file, **_dense())
            model.save_pretrained(scratch, safe_serialization=True)
            del model
            (scratch / _SOURCE_FILE).write_text(_source_stamp(self.gguf_path), encoding="utf-8")
            # mkdtemp makes it private; the cache is read by whoever serves, like the GGUF
            scratch.chmod(0o755)
            for written in scratch.iterdir():
                written.chmod(0o644)
            if self.model_dir.exists():  # stale (another GGUF): replace it
                shutil.rmtree(self.model_dir)
            os.replace(scratch, self.model_dir)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        self.warm_up()
        cancel = threading.Event()
        streamer, worker, failure = self._start(messages, max_tokens, temperature, cancel)
        try:
            yield from apply_stop_sequences((p for p in streamer if p), stop)
        finally:
            cancel.set()  # the model stops at its next token; nobody waits for it
        worker.join(timeout=0.1)
        if failure:
            raise GenerationError(f"{self.name} failed: {failure[0]}") from failure[0]

    def _start(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        temperature: float,
        cancel: threading.Event,
    ) -> tuple[Any, threading.Thread, list[BaseException]]:
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        prompt = self._tokenizer.apply_chat_template(
            as_dicts(messages), tokenize=False, add_generation_prompt=True
        )
        inputs = self._tokenizer(prompt, return_tensors="pt")
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        options: dict[str, Any] = {
            **inputs,
            "streamer": streamer,
            "max_new_tokens": max_tokens,
            "do_sample": temperature > 0,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
            "pad_token_id": self._tokenizer.eos_token_id,
        }
        if temperature > 0:
            options["temperature"] = temperature
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._model.generate(**options)
            except Exception as exc:  # reported by stream() once the streamer ends
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="transformers-generate", daemon=True)
        worker.start()
        return streamer, worker, failure


def _dense() -> dict[str, Any]:
    """from_pretrained options for a plain float32 model that save_pretrained accepts.

    transformers 5 may keep GGUF weights packed and then refuses to save them; 4.x always
    dequantises and has no GgufConfig.
    """
    try:
        import torch
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True), "dtype": torch.float32}


class _Cancelled:
    """A stopping criterion that ends generation once the consumer has gone."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full((input_ids.shape[0],), self.cancel.is_set(), dtype=torch.bool)


_SOURCE_FILE = "source-gguf.json"


def _source_stamp(gguf: Path) -> str:
    return json.dumps({"gguf": gguf.name, "bytes": gguf.stat().st_size}, sort_keys=True)


def _is_complete(model_dir: Path, gguf: Path) -> bool:
    """A cache written last by a finished dequantise of this very GGUF."""
    try:
        stamp = (model_dir / _SOURCE_FILE).read_text(encoding="utf-8")
        return stamp == _source_stamp(gguf) and (model_dir / "config.json").is_file()
    except OSError:
        return False


@dataclass(frozen=True)
class LLMConfig:
    """Which backend drafts, and its settings (the service builds this from its settings)."""

    backend: BackendName = "llama_cpp"
    gguf_path: Path | None = None  # llama_cpp, transformers
    cache_dir: Path | None = None  # transformers: where the dequantised model is kept
    threads: int | None = None  # llama_cpp; None: the cores this process may use
    n_ctx: int = 2048
    base_url: str = ""  # openai
    model: str = ""  # openai: the served model's name
    api_key: str | None = None
    http_timeout: float = 30.0


def build_generator(config: LLMConfig) -> Generator:
    """The configured backend, not loaded yet (call warm_up() to load it now)."""
    if config.backend == "openai":
        if not config.base_url:
            raise GenerationError("the openai backend needs base_url")
        return OpenAIHTTPGenerator(
            config.base_url,
            config.model or "default",
            api_key=config.api_key,
            timeout=config.http_timeout,
        )
    if config.gguf_path is None:
        raise GenerationError(f"the {config.backend} backend needs gguf_path")
    if config.backend == "transformers":
        return TransformersGenerator(config.gguf_path, config.cache_dir or config.gguf_path.parent)
    return LlamaCppGenerator(config.gguf_path, n_ctx=config.n_ctx, threads=config.threads)

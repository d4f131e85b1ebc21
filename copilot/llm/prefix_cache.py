"""Saved llama.cpp KV states, so that a conversation's next draft evaluates only what is new.

llama-cpp-python reuses the longest common token prefix between a prompt and what its one
context evaluated last. With one context serving every conversation, "last" is usually another
conversation's draft, so only the shared rules survive. PrefixStateCache keeps the KV cells of
recent drafts (about 12 KB a token for the 0.5B model: ~4 MB for a 340-token draft) and, before
a draft, restores the one that shares the longest prefix with its prompt; llama-cpp-python's
own prefix matching then evaluates the rest.

Llama.save_state and LlamaRAMCache were measured and rejected: they also copy the logits
buffer (206 MB and ~1.7 s per save for a 339-token prompt; llama_state_seq_* copy 4 MB in 5 ms).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_SEQ = 0  # llama-cpp-python decodes everything as sequence 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class PrefixReuse:
    """What the last prepare() found: prompt tokens, how many were already evaluated, whence."""

    prompt_tokens: int
    reused_tokens: int
    restored: bool  # True: from a saved state; False: the context as the previous draft left it


class PrefixStateCache:
    """An LRU of KV states keyed by their tokens, for one llama_cpp.Llama (callers serialise).

    supersede_after: a draft that reuses more than this many tokens of a saved state continues
    the same conversation (it shares more than the rules), so its own state replaces that one.
    """

    def __init__(self, max_bytes: int = 64 * 2**20, min_gain: int = 16) -> None:
        self.max_bytes = max_bytes
        self.min_gain = min_gain  # fewer tokens saved than this is not worth a restore
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._superseded: tuple[int, ...] | None = None
        self.last = PrefixReuse(0, 0, restored=False)

    @property
    def size_bytes(self) -> int:
        return sum(len(state) for state in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def clear(self) -> None:
        self._states.clear()
        self._superseded = None

    def prepare(self, llm: Any, prompt: Sequence[int], *, supersede_after: int) -> PrefixReuse:
        """Leave in llm's context the evaluated tokens sharing the longest prefix with prompt."""
        live = common_prefix(llm.input_ids[: llm.n_tokens], prompt)
        key, best = self._best(prompt)
        restored = key is not None and best >= live + self.min_gain and self._restore(llm, key)
        self._superseded = key if key is not None and best > supersede_after else None
        self.last = PrefixReuse(len(prompt), best if restored else live, restored)
        return self.last

    def remember(self, llm: Any) -> None:
        """Save llm's context as it is now (a draft's prompt and answer) as the newest state."""
        tokens = tuple(int(t) for t in llm.input_ids[: llm.n_tokens])
        state = _read_state(llm) if tokens and self.max_bytes > 0 else None
        if state is None:
            return
        if self._superseded is not None:
            self._states.pop(self._superseded, None)
            self._superseded = None
        for key in [k for k in self._states if tokens[: len(k)] == k]:
            del self._states[key]  # a prefix of the new state: it can serve nothing better
        self._states[tokens] = state
        while len(self._states) > 1 and self.size_bytes > self.max_bytes:
            self._states.popitem(last=False)

    def _best(self, prompt: Sequence[int]) -> tuple[tuple[int, ...] | None, int]:
        best_key, best = None, 0
        for key in self._states:
            n = common_prefix(key, prompt)
            if n > best:
                best_key, best = key, n
        if best_key is not None:
            self._states.move_to_end(best_key)  # used: the least recently used go first
        return best_key, best

    def _restore(self, llm: Any, key: tuple[int, ...]) -> bool:
        import llama_cpp

        state = self._states[key]
        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        # the sequence is cleared first, so a failure leaves an empty context, never a mixed one
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, len(state), _SEQ) == 0:
            llm.reset()
            del self._states[key]
            return False
        llm.input_ids[: len(key)] = key
        llm.n_tokens = len(key)
        # no live logits: generate() must re-evaluate at least the prompt's last token
        llm._requires_eval = True
        return True


def _read_state(llm: Any) -> bytes | None:
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, _SEQ)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, _SEQ)
    return ctypes.string_at(buffer, written) if written else None  # one copy, no int list


def chat_formatter(llm: Any) -> Any | None:
    """The formatter create_chat_completion applies for this GGUF (its own chat template), so
    that prompts can be matched as tokens before they are evaluated; None for other formats."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template or llm.chat_format != "chat_template.default":
        return None

    def text(token: int) -> str:
        return llm.detokenize([token], special=True).decode("utf-8", "replace")

    return Jinja2ChatFormatter(
        template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos())
    )


def chat_tokens(llm: Any, formatter: Any, messages: list[dict[str, str]]) -> list[int]:
    """The prompt tokens create_chat_completion evaluates for messages."""
    prompt = formatter(messages=messages).prompt
    return list(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

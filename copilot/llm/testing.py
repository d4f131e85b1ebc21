"""Shipped fakes for code that drafts with an LLM: no model, no server, no threads of its own.

    ScriptedGenerator   a Generator that streams a script of pieces, each after an optional
                        delay, and records what it was asked and how far it got

It keeps the contract the real backends keep (tests/copilot/test_generator_contract.py runs the
same assertions against it and llama.cpp): at most `max_tokens` pieces, nothing from a stop
string on, and a stream closed early stops where it is.

    generator = ScriptedGenerator(["亲，", "可以装开水的哦。"])
    slow = ScriptedGenerator([(3.0, "亲")])                       # first piece after 3 s
    broken = ScriptedGenerator(["亲"], fail=RuntimeError("oom"))  # raises after its pieces
    echo = ScriptedGenerator(lambda messages: [messages[-1].content[:10]])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from copilot.llm.backends import apply_stop_sequences
from copilot.llm.drafting import ChatMessage

Piece: TypeAlias = str | tuple[float, str]  # a piece, or (seconds to wait before it, piece)
Script: TypeAlias = Sequence[Piece] | Callable[[Sequence[ChatMessage]], Sequence[Piece]]


@dataclass(frozen=True)
class Request:
    """One call to `stream`, as the generator received it."""

    messages: tuple[ChatMessage, ...]
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]


class ScriptedGenerator:
    """Streams its script: the same pieces for every call, or those `script(messages)` gives.

    `produced` counts the pieces handed out over all calls, `requests` keeps every call, and
    `closed` is set when a stream ends for any reason (finished, failed or closed early), so a
    test can tell that an abandoned stream was stopped. `fail`, when given, is raised after
    the script's pieces.
    """

    def __init__(
        self, script: Script, *, fail: BaseException | None = None, name: str = "scripted"
    ) -> None:
        self.script = script
        self.fail = fail
        self._name = name
        self.produced = 0
        self.requests: list[Request] = []
        self.closed = threading.Event()

    @property
    def name(self) -> str:
        return self._name

    def warm_up(self) -> None:
        """Nothing to load; present because the real backends have it."""

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        self.requests.append(Request(tuple(messages), max_tokens, temperature, tuple(stop)))
        self.closed.clear()
        pieces = self.script(messages) if callable(self.script) else self.script
        return self._play(pieces, max_tokens, stop)

    def _play(self, pieces: Sequence[Piece], max_tokens: int, stop: Sequence[str]) -> Iterator[str]:
        try:
            # One piece stands for one token: the bound a real backend keeps.
            yield from apply_stop_sequences(self._timed(pieces[:max_tokens]), stop)
            if self.fail is not None:
                raise self.fail
        finally:
            self.closed.set()

    def _timed(self, pieces: Sequence[Piece]) -> Iterator[str]:
        for piece in pieces:
            delay, text = piece if isinstance(piece, tuple) else (0.0, piece)
            if delay:
                time.sleep(delay)
            self.produced += 1
            yield text

"""The OpenAI-compatible HTTP backend: vLLM, TGI or a llama.cpp server drafts for the service.

POST /v1/chat/completions with stream=true; server-sent events come back as text pieces. For GPU
scale-out: many service replicas share one model server. Failures leave as GenerationError
(GenerationTimeout when the server is too slow), chained to httpx's exception.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from copilot.errors import GenerationError, GenerationTimeout
from copilot.llm.drafting import ChatMessage


def as_dicts(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class OpenAIHTTPGenerator:
    """POST /v1/chat/completions with stream=true on an OpenAI-compatible server."""

    def __init__(
        self, base_url: str, model: str, *, api_key: str | None = None, timeout: float = 30.0
    ) -> None:
        base = base_url.rstrip("/")
        self.url = base + ("/chat/completions" if base.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self._client: Any = None
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    def warm_up(self) -> None:
        with self._load_lock:
            if self._client is None:
                import httpx

                timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0))
                self._client = httpx.Client(timeout=timeout)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        import httpx

        self.warm_up()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": as_dicts(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            body["stop"] = list(stop)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with self._client.stream("POST", self.url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    detail = response.read().decode("utf-8", "replace")[:200]
                    raise GenerationError(f"{self.url}: HTTP {response.status_code}: {detail}")
                yield from _sse_contents(response.iter_lines(), self.url)
        except httpx.TimeoutException as exc:
            raise GenerationTimeout(f"{self.url}: no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise GenerationError(f"{self.url}: {type(exc).__name__}: {exc}") from exc


def _sse_contents(lines: Iterator[str], url: str) -> Iterator[str]:
    """delta.content of each `data:` event until [DONE]; an error event raises."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # comments (": ping"), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
            if not isinstance(event, dict):
                raise ValueError("not an object")
        except ValueError as exc:  # JSONDecodeError is one
            raise GenerationError(f"{url}: bad stream event {data[:80]!r}") from exc
        if "error" in event:
            raise GenerationError(f"{url}: server error: {event['error']}")
        for choice in event.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content

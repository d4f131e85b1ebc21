"""What tests share to build pipelines on whichever backend their fixtures picked (fakes in the
fast loop, real models in tests marked slow; tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from copilot.build import PipelineConfig, build_suggester
from copilot.llm.drafting import ChatMessage, Generator
from copilot.pipeline import Suggester
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.storage.shop_cache import ShopCache
from kb.storage.store import KBStore

# PipelineConfig names the model folder build_knowledge_base would load; build_suggester(config,
# kb) takes the given KB's embedder and never reads it. A path that cannot exist says so.
KB_BRINGS_ITS_EMBEDDER = Path("/nonexistent/the-kb-brings-its-embedder")


def pick(request: pytest.FixtureRequest, backend: str, *, real: str, fake: str) -> Any:
    """The fixture named `real` or `fake`, by the test's backend (tests/conftest.py: backend)."""
    return request.getfixturevalue(real if backend == "real" else fake)


_MATERIAL = re.compile(r"【资料】\n(.+?)\n【顾客消息】", re.DOTALL)
_CLAUSE = re.compile(r"[^，。；！？～,;!?\n]+")


def echo_material(messages: Sequence[ChatMessage]) -> list[str]:
    """A ScriptedGenerator script that drafts as the small model does when it does well: the
    material's first clause said in the shop's voice (grounded, short, not a copy of the
    material), in pieces of four characters; nothing without material."""
    found = _MATERIAL.search(messages[-1].content)
    clauses = [c.strip() for c in _CLAUSE.findall(found.group(1))] if found else []
    clause = next((c for c in clauses if len(c) >= 6 and c != "亲"), "")[:24]
    text = f"亲，{clause}哦～" if clause else ""
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def suggester_on(
    config: PipelineConfig,
    client: redis.Redis,
    embedder: Embedder,
    generator: Generator | None = None,
) -> Suggester:
    """The pipeline build_suggester makes from `config`, on `embedder` and `generator` instead of
    the models the config names (the service's wiring, with fakes swapped in)."""
    knowledge = KnowledgeBase(
        KBStore(client, max_age=config.metadata_max_age),
        embedder,
        config.retrieval,
        index_cache=ShopCache(config.index_cache_bytes),
    )
    suggester = build_suggester(dataclasses.replace(config, llm_backend="none"), knowledge)
    suggester.generator = generator
    return suggester

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


_MATERIAL_LINE = re.compile(r"^\d+\. (.+)$", re.MULTILINE)


def echo_material(messages: Sequence[ChatMessage]) -> list[str]:
    """A ScriptedGenerator script that drafts as the small model mostly does: the prompt's first
    two material lines joined (grounded, and not a copy of any one retrieval candidate), in
    pieces of four characters; nothing without material."""
    text = "".join(_MATERIAL_LINE.findall(messages[-1].content)[:2])
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

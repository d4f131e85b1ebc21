"""Shared fixtures: real models (built once per run), real embedded Redis, real FAISS.

Models are assembled into COPILOT_MODELS_DIR (default: the user's cache dir, shared with
`make run`), so only the first run on a machine pays for the conversion.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dates import TEST_TODAY

# Every Settings() a test builds, in this process or a CLI child, decides by the tests' day.
os.environ["COPILOT_TODAY"] = TEST_TODAY.isoformat()

from copilot.clock import Clock, SystemClock
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder, SentenceTransformerEmbedder
from kb.storage.recent import recent_reads
from kb.storage.redis_conn import RedisConfig, close_embedded, connect
from kb.storage.store import KBStore

REPO = Path(__file__).resolve().parent.parent
JDDC_DIR = REPO.parent / "shared" / "data" / "jddc"


def pytest_report_header() -> str:
    return f"test day: {TEST_TODAY} (reproduce with COPILOT_TEST_TODAY={TEST_TODAY})"


@pytest.fixture(scope="session", autouse=True)
def _stop_embedded_servers() -> Iterator[None]:
    """Every embedded redis-server the session opened stops with it (they are daemons)."""
    yield
    close_embedded()


@pytest.fixture(scope="session")
def clock() -> Clock:
    """The tests' clock: TEST_TODAY, time still flowing."""
    return SystemClock.on(TEST_TODAY)


@pytest.fixture(scope="session")
def models_dir() -> Path:
    from copilot.model_setup import setup_models
    from service.settings import Settings

    path = Settings().models_dir
    setup_models(path, include_llm=True, progress=False)
    return path


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> Embedder:
    """The serving backend (ONNX Runtime), as the service builds it."""
    from service.settings import Settings
    from service.wiring import build_embedder

    model = build_embedder(Settings(models_dir=models_dir))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def torch_embedder(models_dir: Path) -> SentenceTransformerEmbedder:
    """The same model through sentence-transformers (the reference)."""
    from copilot.model_setup import embedder_dir

    model = SentenceTransformerEmbedder(embedder_dir(models_dir))
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def redis_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("redis-data")


@pytest.fixture(scope="session")
def _redis_server(redis_data_dir: Path) -> redis.Redis:
    return connect(RedisConfig(data_dir=redis_data_dir))


@pytest.fixture()
def redis_client(_redis_server: redis.Redis) -> Iterator[redis.Redis]:
    """The session's embedded Redis, emptied before each test."""
    _redis_server.flushall()
    recent_reads(_redis_server).forget()  # flushed behind the stores' back
    yield _redis_server


@pytest.fixture()
def kb(redis_client: redis.Redis, embedder: Embedder) -> KnowledgeBase:
    return KnowledgeBase(KBStore(redis_client), embedder)


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """The demo shops loaded once into a Redis of their own; tests must not change it."""
    from kb.demo_shops import load_demo_shops

    client = connect(RedisConfig(data_dir=tmp_path_factory.mktemp("demo-redis")))
    knowledge = KnowledgeBase(KBStore(client), embedder)
    load_demo_shops(knowledge, today=TEST_TODAY)
    return knowledge

"""Shared fixtures: real embedded Redis and real FAISS always; the models by the `slow` mark.

A test marked `slow` runs on the real models (assembled once into COPILOT_MODELS_DIR, default:
the user's cache dir, shared with `make run`); any other test gets the shipped fakes
(kb.testing.HashEmbedder, copilot.llm.testing.ScriptedGenerator), so `pytest -m "not slow"`
is the fast loop and `pytest` runs both. `embedder`, `kb` and `demo_kb` pick by the mark; a
test that asks for a real model by name (`models_dir`, `onnx_embedder`, ...) without the mark
is refused at collection, so the fast loop cannot load one by accident.
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

from backends import pick  # after COPILOT_TODAY: it imports the pipeline

from copilot.clock import Clock, SystemClock
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder, SentenceTransformerEmbedder
from kb.storage.recent import recent_reads
from kb.storage.redis_conn import RedisConfig, close_embedded, connect
from kb.storage.store import KBStore
from kb.testing import HashEmbedder

REPO = Path(__file__).resolve().parent.parent
JDDC_DIR = REPO.parent / "shared" / "data" / "jddc"


# Fixtures that load or assemble real models: only tests marked slow may ask for them.
REAL_MODEL_FIXTURES = frozenset({
    "models_dir", "onnx_embedder", "torch_embedder", "real_demo_kb", "real_service_settings",
    "real_service_client",
})  # fmt: skip


def pytest_report_header() -> str:
    return f"test day: {TEST_TODAY} (reproduce with COPILOT_TEST_TODAY={TEST_TODAY})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use real models but are not marked slow (mark them, or use the "
            "fake-backed fixtures):\n  " + "\n  ".join(unmarked)
        )


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
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture()
def backend(request: pytest.FixtureRequest) -> str:
    """ "real" or "fake": which models the fixtures that pick (embedder, kb, demo_kb, the
    service app, ...) give this test. A test marked slow gets "real"; any other test that
    picks runs twice (pytest_generate_tests): on the fakes, and on the real models marked slow."""
    if hasattr(request, "param"):
        return str(request.param)
    return "real" if request.node.get_closest_marker("slow") else "fake"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and not metafunc.definition.get_closest_marker("slow"):
        real = pytest.param("real", marks=pytest.mark.slow)
        fakes_only = metafunc.definition.get_closest_marker("fakes_only")
        metafunc.parametrize("backend", ["fake"] if fakes_only else ["fake", real], indirect=True)


@pytest.fixture()
def embedder(request: pytest.FixtureRequest, backend: str) -> Embedder:
    """The real ONNX model or the HashEmbedder, by `backend`."""
    return pick(request, backend, real="onnx_embedder", fake="hash_embedder")


@pytest.fixture(scope="session")
def onnx_embedder(models_dir: Path) -> Embedder:
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


@pytest.fixture()
def demo_kb(request: pytest.FixtureRequest, backend: str) -> KnowledgeBase:
    """The demo shops, loaded once per backend into a Redis of their own; tests must not change
    it."""
    return pick(request, backend, real="real_demo_kb", fake="hash_demo_kb")


@pytest.fixture(scope="session")
def real_demo_kb(
    tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder
) -> KnowledgeBase:
    return _demo_kb(tmp_path_factory, onnx_embedder)


@pytest.fixture(scope="session")
def hash_demo_kb(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: HashEmbedder
) -> KnowledgeBase:
    return _demo_kb(tmp_path_factory, hash_embedder)


def _demo_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    from kb.demo_shops import load_demo_shops

    client = connect(RedisConfig(data_dir=tmp_path_factory.mktemp("demo-redis")))
    knowledge = KnowledgeBase(KBStore(client), embedder)
    load_demo_shops(knowledge, today=TEST_TODAY)
    return knowledge

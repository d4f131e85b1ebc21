"""Shared fixtures of the service tests: one app per session and backend, driven through HTTP,
and a helper that makes API keys. A test marked slow gets the app on the real models (the e5
embedder, the real llama.cpp Qwen); any other the same app on the shipped fakes (HashEmbedder,
a ScriptedGenerator drafting from its material). Both: real embedded Redis, demo shops.

    def test_x(api, make_key, auth):
        key = make_key("agent", ["demo-pdd"])
        api.post("/v1/suggest", json=..., headers=auth(key))
        api.get("/v1/shops", headers=auth(role="trainer", shops=["demo-ks"]))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from backends import echo_material, pick, suggester_on
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.llm.testing import ScriptedGenerator
from kb.storage.redis_conn import close, connect
from kb.testing import HashEmbedder
from service.main import create_app
from service.settings import Settings
from service.wiring import pipeline_config

MakeKey = Callable[..., str]
Auth = Callable[..., dict[str, str]]


@pytest.fixture()
def service_settings(request: pytest.FixtureRequest, backend: str) -> Settings:
    return pick(request, backend, real="real_service_settings", fake="fake_service_settings")


@pytest.fixture(scope="session")
def real_service_settings(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _settings(tmp_path_factory.mktemp("service-data"), models_dir)


@pytest.fixture(scope="session")
def fake_service_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # no models there: an app built from these settings without the fakes fails loudly
    return _settings(tmp_path_factory.mktemp("fake-service-data"), Path("/nonexistent/models"))


def _settings(data_dir: Path, models_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        models_dir=models_dir,
        llm_backend="llama_cpp",
        llm_gate_file=None,  # the streaming tests are about drafts: drafted on every intent
        # The real Qwen's first token takes ~7 s on an idle 2-core CPU (bench/llm_speed.py) and
        # far longer on a busy one: the streaming test must not turn into a timeout test.
        llm_first_token_timeout=180,
        llm_total_timeout=300,
        llm_max_tokens=48,
        rate_limit_per_minute=0,  # the rate-limit test builds its own limiter
        auth_failures_per_minute=0,  # so does the bad-key test (every client is "testclient")
        create_admin_key=False,
    )


@pytest.fixture()
def service_client(request: pytest.FixtureRequest, backend: str) -> TestClient:
    return pick(request, backend, real="real_service_client", fake="fake_service_client")


@pytest.fixture(scope="session")
def real_service_client(real_service_settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan run once: models warmed, demo shops loaded."""
    with TestClient(create_app(real_service_settings)) as client:
        yield client


@pytest.fixture(scope="session")
def fake_service_client(
    fake_service_settings: Settings, hash_embedder: HashEmbedder
) -> Iterator[TestClient]:
    """The same app on the fakes, its lifespan run once: demo shops loaded."""
    settings = fake_service_settings
    client = connect(settings.redis_config())
    drafter = ScriptedGenerator(echo_material, name="echo-material")
    suggester = suggester_on(pipeline_config(settings), client, hash_embedder, drafter)
    try:
        with TestClient(create_app(settings, suggester=suggester)) as app_client:
            yield app_client
    finally:
        close(client)  # an injected pipeline's store is the caller's to stop


@pytest.fixture()
def service_app(service_client: TestClient) -> FastAPI:
    app = service_client.app
    assert isinstance(app, FastAPI)
    return app


@pytest.fixture()
def api(service_client: TestClient) -> TestClient:
    """The session's client, without default headers: each test sends its own key."""
    return service_client


@pytest.fixture()
def make_key(service_app: FastAPI) -> MakeKey:
    """make_key(role, shops=("demo-pdd",), label="") -> the plaintext key."""

    def make(role: str = "agent", shops: tuple[str, ...] | list[str] = ("demo-pdd",),
             label: str = "test") -> str:  # fmt: skip
        _, key = service_app.state.services.keys.create(role, list(shops), label)
        return str(key)

    return make


@pytest.fixture()
def auth(make_key: MakeKey) -> Auth:
    """auth(key) or auth(role=..., shops=...) (a new key) -> the Authorization header."""

    def headers(key: str | None = None, *, role: str = "agent",
                shops: tuple[str, ...] | list[str] = ("demo-pdd",)) -> dict[str, str]:  # fmt: skip
        return {"Authorization": f"Bearer {key or make_key(role, shops)}"}

    return headers

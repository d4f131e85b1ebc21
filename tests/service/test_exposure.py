"""What the service shows to whom: the first admin key only in an owner-only file, the docs and
metrics only with a key unless made public, bodies over the limit refused as 413 however they
are sent, and bad keys throttled per client address."""

from __future__ import annotations

import io
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.first_key import create_first_admin_key, key_file
from service.keys import KeyStore
from service.limits import AuthFailureLimiter
from service.main import create_app
from service.settings import Settings

Auth = Callable[..., dict[str, str]]


# --- the first admin key -------------------------------------------------------------------


def test_the_first_admin_key_goes_to_an_owner_only_file_not_to_stdout(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", create_admin_key=True)
    keys, out = KeyStore(redis_client), io.StringIO()
    saved_umask = os.umask(0)  # the most permissive umask: the file must still be 0600
    try:
        create_first_admin_key(keys, settings, out)
    finally:
        os.umask(saved_umask)
    path = key_file(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    principal = keys.lookup(key)
    assert principal is not None and principal.role == "admin" and principal.all_shops
    printed = out.getvalue()
    assert key not in printed
    assert str(path) in printed and "$(cat" in printed  # where it is, and how to use it


def test_a_key_that_cannot_be_written_is_revoked(redis_client: redis.Redis, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # the data dir cannot be made: a file is in the way
    keys, out = KeyStore(redis_client), io.StringIO()
    create_first_admin_key(keys, Settings(data_dir=blocker), out)
    assert [info.revoked for info in keys.list()] == [True]  # nobody could ever read it
    assert "copilot keys create" in out.getvalue()


# --- docs and metrics ----------------------------------------------------------------------


def test_docs_and_metrics_need_a_key_by_default(api: TestClient, auth: Auth) -> None:
    for path in ("/openapi.json", "/metrics"):
        anonymous = api.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.json()["error"]["code"] == "unauthorized"
        assert api.get(path, headers=auth(role="trainer")).status_code == 200, path
    assert "/v1/suggest" in api.get("/openapi.json", headers=auth()).json()["paths"]
    for page in ("/docs", "/redoc"):  # a browser cannot send the key: say what to do instead
        off = api.get(page)
        assert off.status_code == 404 and "COPILOT_PUBLIC_DOCS" in off.json()["error"]["message"]


def test_public_docs_and_metrics_answer_without_a_key(service_settings: Settings) -> None:
    public = service_settings.model_copy(update={"public_docs": True, "public_metrics": True})
    client = TestClient(
        create_app(public)
    )  # no lifespan: these routes need neither Redis nor models
    assert "/v1/suggest" in client.get("/openapi.json").json()["paths"]
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/redoc").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "copilot_http_request_duration_seconds" in metrics.text


def test_the_settings_default_to_keyed_docs_and_metrics() -> None:
    fields = Settings.model_fields
    assert fields["public_docs"].default is False and fields["public_metrics"].default is False


# --- body size ------------------------------------------------------------------------------


@pytest.fixture()
def served(service_app: FastAPI) -> Iterator[str]:
    """The session's app behind a real uvicorn server (HTTP/1.1 on a socket), for what the
    test client cannot send: a chunked body."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(service_app, host="127.0.0.1", port=port, lifespan="off",
                            log_level="warning", access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="test-uvicorn")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    body = b'{"suggestion_id": "' + b"x" * total + b'", "action": "shown"}'
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("path", ["/v1/feedback", "/v1/conversations/big-1/turns"])
def test_a_chunked_body_over_the_limit_gets_413(
    served: str, service_settings: Settings, auth: Auth, path: str
) -> None:
    over = service_settings.max_body_bytes + 1024
    headers = {**auth(), "Content-Type": "application/json"}
    response = httpx.post(served + path, content=_chunks(over), headers=headers, timeout=60)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "body_too_large"
    small = httpx.post(served + "/v1/feedback", content=_chunks(50), headers=headers, timeout=60)
    assert small.status_code == 404, small.text  # under the limit: read whole (no such suggestion)


# --- bad keys -------------------------------------------------------------------------------


@pytest.fixture()
def throttled(service_app: FastAPI) -> Iterator[AuthFailureLimiter]:
    """At most 3 bad keys a minute per address; the test starts early in a minute, so the
    window cannot roll over half way."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    saved = service_app.state.services.auth_failures
    service_app.state.services.auth_failures = limiter = AuthFailureLimiter(
        service_app.state.services.redis, 3
    )
    try:
        yield limiter
    finally:
        service_app.state.services.auth_failures = saved
        for key in service_app.state.services.redis.scan_iter("copilot:authfail:*"):
            service_app.state.services.redis.delete(key)


def test_bad_keys_are_throttled_per_address_without_locking_out_key_holders(
    service_app: FastAPI, make_key: Callable[..., str], throttled: AuthFailureLimiter
) -> None:
    def bearer(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    attacker = TestClient(service_app, client=("203.0.113.7", 40000))
    elsewhere = TestClient(service_app, client=("198.51.100.9", 40000))
    in_use, unused = make_key("agent"), make_key("agent")
    assert attacker.get("/v1/shops", headers=bearer(in_use)).status_code == 200  # verified
    for n in range(3):
        assert attacker.get("/v1/shops", headers=bearer(f"cpk_guess-{n}")).status_code == 401
    refused = attacker.get("/v1/shops", headers=bearer("cpk_guess-new"))  # a new key each time
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_bad_keys"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    # From that address a key not yet verified here could be a guess: refused unread...
    assert attacker.get("/v1/shops", headers=bearer(unused)).status_code == 429
    # ...a key this process has verified is not a guess: its holder keeps working.
    assert attacker.get("/v1/shops", headers=bearer(in_use)).status_code == 200
    # Another address is not affected, whatever key the attacker sent.
    assert elsewhere.get("/v1/shops", headers=bearer(unused)).status_code == 200
    assert elsewhere.get("/v1/shops", headers=bearer("cpk_typo")).status_code == 401

"""With Redis down: the rate limit fails closed (each process still refuses past the limit), and
clients are told the store is down, never where it lives nor what Redis said."""

from __future__ import annotations

from typing import Any, cast

import pytest

from service.errors import ServiceError
from service.limits import RateLimiter


def test_with_redis_down_the_limit_is_counted_in_the_process() -> None:
    limiter = RateLimiter(cast(Any, None), per_minute=3)
    for _ in range(3):
        limiter.enforce([], "k_agent")  # no replies: Redis did not answer
    with pytest.raises(ServiceError) as caught:
        limiter.enforce([], "k_agent")
    assert caught.value.status == 429
    limiter.enforce([], "k_other")  # each key has its own budget


def test_with_redis_up_its_shared_count_decides() -> None:
    limiter = RateLimiter(cast(Any, None), per_minute=3)
    limiter.enforce([3, True], "k")
    with pytest.raises(ServiceError):
        limiter.enforce([4, True], "k")
    RateLimiter(cast(Any, None), per_minute=0).enforce([], "k")  # 0: no limit


def test_store_errors_never_show_hosts_or_socket_paths_to_clients() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from kb.errors import StoreUnavailable
    from service import errors

    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise StoreUnavailable("cannot reach Redis (embedded redis under /srv/secret/redis.sock)")

    response = TestClient(app).get("/boom")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == errors.STORE_DOWN
    assert "/srv/secret" not in response.text


@pytest.mark.parametrize(
    "failure",
    [
        "redis",  # a route that cannot do without Redis
        "history",  # the history bank quoting Redis's error
        "feedback",  # the feedback log quoting it
    ],
)
def test_redis_errors_reach_clients_as_503_without_their_text(failure: str) -> None:
    import redis
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from copilot.errors import FeedbackUnavailable, HistoryUnavailable
    from service import errors

    where = "Error 2 connecting to unix socket: /tmp/tmpab12cd/redis.socket. No such file."
    raised = {
        "redis": redis.ConnectionError(where),
        "history": HistoryUnavailable(f"the history bank's Redis failed: {where}"),
        "feedback": FeedbackUnavailable(f"cannot read feedback: {where}"),
    }[failure]
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise raised

    response = TestClient(app).get("/boom")
    assert response.status_code == 503
    assert response.json()["error"]["message"] == errors.STORE_DOWN
    for secret in ("/tmp/tmpab12cd", "socket", "ConnectionError"):
        assert secret not in response.text

"""Two replicas on one real Redis behave as one service: a KB change made through replica A is
served by replica B within 2 s, and B rebuilds the shop's index on A's announcement, before
any request reaches it.

Replica A is the session's app; replica B is a second app (its own models, index caches and
Redis connections) pointed at A's Redis server by URL, as a second process would be.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.feedback.records import RecordedCandidate, SuggestionRecord
from kb.files.codec import entry_from_dict
from service.main import create_app
from service.settings import Settings

pytestmark = pytest.mark.slow  # replica B loads its own models

Auth = Callable[..., dict[str, str]]
SHOP = "sync-shop"
WITHIN_S = 2.0
FAQ = {
    "kind": "faq",
    "id": "sync-invoice",
    "question": "可以开发票吗",
    "answer": "可以的亲，下单后在订单详情里申请电子发票~",
}


@pytest.fixture(scope="module")
def replica_b(
    real_service_client: TestClient, real_service_settings: Settings
) -> Iterator[TestClient]:
    socket = real_service_client.app.state.services.redis.socket_file  # type: ignore[attr-defined]
    settings = real_service_settings.model_copy(
        update={"redis_url": f"unix://{socket}", "llm_backend": "none", "load_demo_shops": False}
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _b(replica_b: TestClient) -> FastAPI:
    app = replica_b.app
    assert isinstance(app, FastAPI)
    return app


def _wait(condition: Callable[[], bool], within: float = WITHIN_S) -> float:
    """Seconds until condition() held; fails past `within`."""
    started = time.perf_counter()
    while not condition():
        elapsed = time.perf_counter() - started
        assert elapsed < within, f"not within {within} s"
        time.sleep(0.02)
    return time.perf_counter() - started


def _answers(client: TestClient, headers: dict[str, str], q: str) -> list[str]:
    response = client.get(f"/v1/shops/{SHOP}/kb/search", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return [h["entry"].get("answer", "") for h in response.json()["hits"]]


def test_an_entry_created_on_a_is_found_on_b(
    api: TestClient, replica_b: TestClient, auth: Auth
) -> None:
    trainer = auth(role="trainer", shops=[SHOP])  # keys live in Redis: B knows it too
    b = _b(replica_b)
    created = api.post(f"/v1/shops/{SHOP}/kb/entries", json=FAQ, headers=trainer)
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    # B rebuilds on A's announcement, with no request to B at all.
    _wait(lambda: b.state.services.kb_sync.rebuilt.get(SHOP, 0) >= version)
    builds = b.state.services.kb.indexes.builds
    assert any("电子发票" in a for a in _answers(replica_b, trainer, "能开发票么"))
    assert (
        b.state.services.kb.indexes.builds == builds
    )  # served from the index built off the request path

    changed = {**FAQ, "answer": "可以的亲，电子发票当天开好~"}
    assert (
        api.put(
            f"/v1/shops/{SHOP}/kb/entries/sync-invoice", json=changed, headers=trainer
        ).status_code
        == 200
    )
    _wait(lambda: any("当天开好" in a for a in _answers(replica_b, trainer, "能开发票么")))

    extra = {**FAQ, "id": "sync-express", "question": "发什么快递", "answer": "默认中通快递哦"}
    assert api.post(f"/v1/shops/{SHOP}/kb/entries", json=extra, headers=trainer).status_code == 201
    assert (
        api.delete(f"/v1/shops/{SHOP}/kb/entries/sync-invoice", headers=trainer).status_code == 200
    )
    _wait(lambda: not any("发票" in a for a in _answers(replica_b, trainer, "能开发票么")))


def test_a_write_that_announces_nothing_is_served_within_the_max_age(
    service_app: FastAPI, replica_b: TestClient, auth: Auth
) -> None:
    """The CLI writes to the store without publishing: B's version check still serves the
    change once its recent read of the version is older than COPILOT_METADATA_MAX_AGE, so a
    lost announcement costs at most that and the rebuild time."""
    max_age = _b(replica_b).state.services.settings.metadata_max_age
    assert 0 < max_age < WITHIN_S
    knowledge = service_app.state.services.kb
    headers = auth(role="trainer", shops=[SHOP])
    _answers(replica_b, headers, "可以七天无理由退货吗")  # B has read the version now
    entry = entry_from_dict(SHOP, {"kind": "faq", "id": "sync-cli", "question": "支持七天无理由退货吗",
                                   "answer": "支持的亲，签收7天内可以无理由退货"})  # fmt: skip
    knowledge.add(SHOP, [entry])  # A's store, no announcement: B has its own client
    seconds = _wait(lambda: any("无理由退货" in a for a in _answers(replica_b, headers,
                                                                  "可以七天无理由退货吗")))  # fmt: skip
    assert seconds < max_age + 1.0


def test_feedback_on_b_counts_in_stats_on_a(
    api: TestClient, replica_b: TestClient, service_app: FastAPI, auth: Auth
) -> None:
    service_app.state.services.records.put(
        SuggestionRecord("sync-s1", SHOP, "c-sync", time.time(), "能开发票吗", "发票", 0.9,
                         "assist", None, True,
                         (RecordedCandidate("sync-s1:1", "可以的亲", "answer", "kb"),))
    )  # fmt: skip
    posted = replica_b.post(
        "/v1/feedback",
        json={"suggestion_id": "sync-s1", "candidate_id": "sync-s1:1", "action": "inserted"},
        headers=auth(role="agent", shops=[SHOP]),
    )
    assert posted.status_code == 202, posted.text
    stats = api.get(f"/v1/shops/{SHOP}/stats", headers=auth(role="trainer", shops=[SHOP])).json()
    assert stats["inserted"] == 1 and stats["accepted"] == 1


def test_bad_announcements_are_ignored_and_the_listener_lives_on(
    api: TestClient, service_app: FastAPI, auth: Auth
) -> None:
    sync = service_app.state.services.kb_sync
    for message in (b"not json", b'{"shop_id": "no-such-shop", "version": 5}', b"{}", None):
        sync.handle(message)
    assert "no-such-shop" not in sync.rebuilt
    service_app.state.services.redis.publish(sync.channel, b"garbage")
    trainer = auth(role="trainer", shops=["sync-live-shop"])
    created = api.post(
        "/v1/shops/sync-live-shop/kb/entries", json={**FAQ, "id": "live-1"}, headers=trainer
    )
    assert created.status_code == 201
    _wait(lambda: sync.rebuilt.get("sync-live-shop", 0) >= created.json()["version"])

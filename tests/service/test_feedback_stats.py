"""Feedback -> stats and gaps through HTTP: roles, shop scope, masking, and hand-counted figures.

Suggestion records are put in the service's Redis as the suggest route records them; one test
goes through /v1/suggest itself. Shops other than the demo ones keep the counts exact while
other test modules use the same session app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.feedback.log import FeedbackEvent
from copilot.feedback.records import RecordedCandidate, SuggestionLog, SuggestionRecord
from kb.storage.redis_keys import KEYS

Auth = Callable[..., dict[str, str]]
SHOP = "stats-shop"


def _put(app: FastAPI, sid: str, intent: str, route: str, *candidates: tuple[str, str],
         shop: str = SHOP, message: str = "能开发票吗", confident: bool = True) -> None:  # fmt: skip
    log: SuggestionLog = app.state.services.records
    log.put(
        SuggestionRecord(
            suggestion_id=sid, shop_id=shop, conversation_id=f"c-{sid}", ts=time.time(),
            customer_msg=message, intent=intent, confidence=0.8, route=route, queue=None,
            retrieval_confident=confident,
            candidates=tuple(
                RecordedCandidate(f"{sid}:{n}", text, "answer", source)
                for n, (text, source) in enumerate(candidates, start=1)
            ),
        )
    )  # fmt: skip


@pytest.fixture()
def stats_shop(service_app: FastAPI) -> None:
    _put(
        service_app,
        "fs-1",
        "发票",
        "assist",
        ("可以开发票的亲", "kb"),
        ("亲亲可以开具发票哦", "history"),
    )
    _put(service_app, "fs-2", "发票", "assist", ("可以开发票的亲", "kb"))
    _put(service_app, "fs-3", "物流", "auto", ("今天发货", "history"))


def test_feedback_events_become_stats(
    api: TestClient, auth: Auth, service_app: FastAPI, stats_shop: None
) -> None:
    agent = auth(role="agent", shops=[SHOP])
    posts = [
        {"suggestion_id": "fs-1", "action": "shown"},
        {"suggestion_id": "fs-1", "candidate_id": "fs-1:1", "action": "inserted"},
        {"suggestion_id": "fs-1", "candidate_id": "fs-1:1", "action": "sent",
         "final_text": "可以开发票的亲~", "ms_to_send": 5000},
        {"suggestion_id": "fs-2", "action": "dismissed"},
        {"suggestion_id": "fs-3", "candidate_id": "fs-3:1", "action": "sent",
         "final_text": "寄到13812345678，收件人张三"},
    ]  # fmt: skip
    for body in posts:
        response = api.post("/v1/feedback", json=body, headers=agent)
        assert response.status_code == 202, response.text
        assert response.json() == {"accepted": True}
    stored = service_app.state.services.redis.xrange(KEYS.shop(SHOP, "feedback"))
    texts = [fields.get(b"text", b"").decode() for _, fields in stored]
    assert any("138****5678" in t for t in texts)
    assert not any("13812345678" in t or "张三" in t for t in texts)

    stats = api.get(f"/v1/shops/{SHOP}/stats", headers=auth(role="trainer", shops=[SHOP]))
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["shop_id"] == SHOP and body["since"].endswith("+08:00")
    assert {k: body[k] for k in ("suggestions", "shown", "inserted", "sent", "dismissed",
                                 "accepted")} == {
        "suggestions": 3, "shown": 3, "inserted": 1, "sent": 2, "dismissed": 1, "accepted": 1,
    }  # fmt: skip
    assert body["acceptance_rate"] == pytest.approx(1 / 3, abs=1e-4)
    # fs-1 moved 1 of 8 characters; fs-3's sent text shares nothing with "今天发货".
    assert body["mean_edit_distance"] == pytest.approx((1 / 8 + 1.0) / 2, abs=1e-4)
    assert body["by_intent"]["发票"] == {"shown": 2, "accepted": 1, "rate": 0.5}
    assert body["by_route"]["auto"] == {"shown": 1, "accepted": 0, "rate": 0.0}
    assert body["by_source"]["kb"] == {"shown": 2, "accepted": 1, "rate": 0.5}
    assert [d["shown"] for d in body["by_day"]] == [3]
    since_date = api.get(
        f"/v1/shops/{SHOP}/stats", params={"since": "2000-01-01"}, headers=auth(role="admin")
    )
    assert since_date.status_code == 200 and since_date.json()["shown"] == 3


def test_feedback_errors(api: TestClient, auth: Auth, stats_shop: None) -> None:
    agent = auth(role="agent", shops=[SHOP])
    cases = [
        ({"suggestion_id": "fs-1", "action": "shown"}, {}, 401, "unauthorized"),
        ({"suggestion_id": "no-such", "action": "shown"}, agent, 404, "suggestion_not_found"),
        ({"suggestion_id": "fs-1", "action": "shown"}, auth(role="agent", shops=["demo-ks"]),
         403, "forbidden"),
        ({"suggestion_id": "fs-1", "action": "shown"}, auth(role="trainer", shops=[SHOP]),
         403, "forbidden"),
        ({"suggestion_id": "fs-1", "action": "liked"}, agent, 422, "invalid_request"),
        ({"suggestion_id": "fs-1", "candidate_id": "fs-2:1", "action": "inserted"}, agent,
         422, "invalid_request"),
        ({"suggestion_id": "fs-1", "action": "sent", "ms_to_send": -5}, agent, 422,
         "invalid_request"),
    ]  # fmt: skip
    for body, headers, status, code in cases:
        response = api.post("/v1/feedback", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code
    bad = api.post("/v1/feedback", json={"suggestion_id": "fs-1", "action": "liked"}, headers=agent)
    assert bad.json()["error"]["field"] == "action"
    wrong = api.post(
        "/v1/feedback",
        json={"suggestion_id": "fs-1", "candidate_id": "fs-2:1", "action": "inserted"},
        headers=agent,
    )
    assert wrong.json()["error"]["field"] == "candidate_id"


def test_stats_and_gaps_need_a_trainer_of_the_shop(
    api: TestClient, auth: Auth, stats_shop: None
) -> None:
    for path in (f"/v1/shops/{SHOP}/stats", f"/v1/shops/{SHOP}/gaps"):
        assert api.get(path).status_code == 401
        agent = api.get(path, headers=auth(role="agent", shops=[SHOP]))
        assert agent.status_code == 403 and agent.json()["error"]["code"] == "forbidden"
        other = api.get(path, headers=auth(role="trainer", shops=["demo-ks"]))
        assert other.status_code == 403
        bad = api.get(
            path, params={"since": "last week"}, headers=auth(role="trainer", shops=[SHOP])
        )
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"
    missing = api.get("/v1/shops/no-such-shop-here/stats", headers=auth(role="admin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "shop_not_found"


def test_gaps_group_the_questions_the_kb_could_not_answer(
    api: TestClient, auth: Auth, service_app: FastAPI
) -> None:
    shop = "gaps-shop"
    unanswered = ["能开发票吗", "能开发票吗？", "能开发票吗", "可以开发票吗", "发什么快递",
                  "发什么快递", "什么快递发货"]  # fmt: skip
    for n, message in enumerate(unanswered):
        _put(service_app, f"gap-{n}", "其他", "assist", ("稍等亲", "kb"), shop=shop,
             message=message, confident=False)  # fmt: skip
    _put(service_app, "gap-ok", "商品咨询", "assist", ("可以的", "kb"), shop=shop,
         message="这个杯子能装开水吗", confident=True)  # fmt: skip
    response = api.get(f"/v1/shops/{shop}/gaps", headers=auth(role="trainer", shops=[shop]))
    assert response.status_code == 200, response.text
    groups = response.json()["groups"]
    # "能开发票吗？" is the same wording as "能开发票吗" (punctuation does not count).
    assert [(g["question"], g["count"], g["examples"]) for g in groups] == [
        ("能开发票吗", 4, ["可以开发票吗"]),
        ("发什么快递", 3, ["什么快递发货"]),
    ]
    assert groups[0]["intent"] == "其他"


def test_suggest_then_feedback_moves_the_stats(api: TestClient, auth: Auth) -> None:
    """The whole loop on a demo shop: a real suggestion, an insert, the stats count it."""
    agent = auth(role="agent", shops=["demo-pdd"])
    trainer = auth(role="trainer", shops=["demo-pdd"])
    before = api.get("/v1/shops/demo-pdd/stats", params={"since": "1d"}, headers=trainer).json()
    suggestion = api.post(
        "/v1/suggest",
        json={"shop_id": "demo-pdd", "conversation_id": "c-fs-loop", "use_llm": False,
              "turns": [{"role": "customer", "text": "这个杯子能装开水吗"}]},
        headers=agent,
    )  # fmt: skip
    assert suggestion.status_code == 200, suggestion.text
    body = suggestion.json()
    first = body["candidates"][0]
    for action in ("shown", "inserted"):
        posted = api.post(
            "/v1/feedback",
            json={"suggestion_id": body["suggestion_id"], "candidate_id": first["id"],
                  "action": action},
            headers=agent,
        )  # fmt: skip
        assert posted.status_code == 202, posted.text
    after = api.get("/v1/shops/demo-pdd/stats", params={"since": "1d"}, headers=trainer).json()
    assert after["shown"] == before["shown"] + 1
    assert after["accepted"] == before["accepted"] + 1
    intent = body["intent"]["label"]
    assert after["by_intent"][intent]["accepted"] == (
        before["by_intent"].get(intent, {"accepted": 0})["accepted"] + 1
    )


def test_a_window_past_the_cap_is_counted_from_its_newest_part(
    api: TestClient, auth: Auth, service_app: FastAPI
) -> None:
    shop, cap = "cap-shop", 10
    for n in range(cap + 3):  # as in service: each suggestion shown soon after it was made
        _put(service_app, f"cap-{n}", "其他", "assist", ("稍等亲", "kb"), shop=shop,
             message="能开发票吗", confident=False)  # fmt: skip
        service_app.state.services.feedback.append(
            FeedbackEvent(f"cap-{n}", None, shop, "shown", ts=time.time())
        )
    trainer = auth(role="trainer", shops=[shop])

    def both() -> tuple[dict[str, Any], dict[str, Any]]:
        stats = api.get(f"/v1/shops/{shop}/stats", headers=trainer)
        gaps = api.get(f"/v1/shops/{shop}/gaps", headers=trainer)
        assert stats.status_code == gaps.status_code == 200, (stats.text, gaps.text)
        return stats.json(), gaps.json()

    stats, gaps = both()
    assert (stats["suggestions"], stats["shown"], stats["truncated"]) == (cap + 3, cap + 3, False)
    assert stats["counted_since"] == stats["since"]
    assert (gaps["groups"][0]["count"], gaps["truncated"]) == (cap + 3, False)

    settings = service_app.state.services.settings
    service_app.state.services.settings = settings.model_copy(update={"max_stats_events": cap})
    try:
        stats, gaps = both()
    finally:
        service_app.state.services.settings = settings
    assert (stats["suggestions"], stats["shown"], stats["truncated"]) == (cap, cap, True)
    assert stats["unmatched_events"] == 0  # the events of the suggestions counted, no others
    assert stats["counted_since"] > stats["since"]
    assert (gaps["groups"][0]["count"], gaps["truncated"]) == (cap, True)
    assert gaps["counted_since"] == stats["counted_since"]

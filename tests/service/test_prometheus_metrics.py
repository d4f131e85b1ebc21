"""GET /metrics (Prometheus text) and the observe_* functions the routes call.

Metrics are per process and other tests move them too, so every check compares before/after.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from copilot.types import Conversation, Turn
from service.metrics import observe_cache, observe_suggestion, observe_tokens

Auth = Callable[..., dict[str, str]]


def _samples(api: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    _, key = api.app.state.services.keys.create("agent", ["demo-pdd"], "prometheus")  # type: ignore[attr-defined]
    response = api.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_request_latency_is_labelled_by_route_template(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=["demo-pdd"])
    name = "copilot_http_request_duration_seconds_count"
    route = "/v1/shops/{shop_id}/kb/search"
    before = _value(_samples(api), name, method="GET", route=route, status="200")
    for q in ("这个杯子能装开水吗", "退货运费谁出"):
        response = api.get("/v1/shops/demo-pdd/kb/search", params={"q": q}, headers=trainer)
        assert response.status_code == 200
    api.get("/v1/shops/demo-pdd/kb/search", params={"q": "在吗"})  # 401
    samples = _samples(api)
    assert _value(samples, name, method="GET", route=route, status="200") == before + 2
    assert _value(samples, name, method="GET", route=route, status="401") >= 1
    raw_paths = [
        labels
        for (n, labels) in samples
        if n == name and ("route", "/v1/shops/demo-pdd/kb/search") in labels
    ]
    assert raw_paths == []
    api.get("/no/such/path")
    assert _value(_samples(api), name, method="GET", route="unmatched", status="404") >= 1


def test_suggestion_stages_sources_tokens_and_cache(api: TestClient, service_app: FastAPI) -> None:
    conversation = Conversation("demo-pdd", (Turn("customer", "这个杯子能装开水吗"),))
    suggestion = service_app.state.services.suggester.suggest(conversation, use_llm=False)
    assert suggestion.timings_ms and suggestion.candidates
    before = _samples(api)
    observe_suggestion(suggestion, 0.042)
    observe_tokens(40, 2.0)
    observe_tokens(0, 1.0)  # nothing drafted: not a rate
    for hit in (True, True, False, True):
        observe_cache(hit)
    after = _samples(api)
    for stage in suggestion.timings_ms:
        assert (
            _value(after, "copilot_stage_duration_seconds_count", stage=stage)
            == _value(before, "copilot_stage_duration_seconds_count", stage=stage) + 1
        )
    action = suggestion.route.action
    assert _value(after, "copilot_suggestions_total", route=action) == (
        _value(before, "copilot_suggestions_total", route=action) + 1
    )
    offered = sum(
        _value(after, "copilot_candidates_total", source=s, route=action)
        - _value(before, "copilot_candidates_total", source=s, route=action)
        for s in ("kb", "history", "llm", "template")
    )
    assert offered == len(suggestion.candidates)
    assert (
        _value(after, "copilot_llm_tokens_total") == _value(before, "copilot_llm_tokens_total") + 40
    )
    assert (
        _value(after, "copilot_llm_seconds_total")
        == _value(before, "copilot_llm_seconds_total") + 2.0
    )
    hits = _value(after, "copilot_cache_lookups_total", result="hit")
    lookups = hits + _value(after, "copilot_cache_lookups_total", result="miss")
    assert hits - _value(before, "copilot_cache_lookups_total", result="hit") == 3
    assert _value(after, "copilot_cache_hit_rate") == hits / lookups


def test_feedback_actions_are_counted(api: TestClient, auth: Auth, service_app: FastAPI) -> None:
    from copilot.feedback.records import RecordedCandidate, SuggestionRecord

    service_app.state.services.records.put(
        SuggestionRecord("met-1", "demo-ks", None, 1.0e9, "在吗", "问候", 0.9, "assist", None,
                         True, (RecordedCandidate("met-1:1", "在的亲", "answer", "kb"),))
    )  # fmt: skip
    before = _value(_samples(api), "copilot_feedback_actions_total", action="dismissed")
    response = api.post(
        "/v1/feedback",
        json={"suggestion_id": "met-1", "action": "dismissed"},
        headers=auth(role="agent", shops=["demo-ks"]),
    )
    assert response.status_code == 202
    after = _value(_samples(api), "copilot_feedback_actions_total", action="dismissed")
    assert after == before + 1


def test_suggest_requests_feed_the_suggestion_and_cache_metrics(
    api: TestClient, auth: Auth
) -> None:
    headers = auth()
    before = _samples(api)
    body = {"shop_id": "demo-pdd", "turns": [{"role": "customer", "text": "满多少可以包邮呢"}]}
    first = api.post("/v1/suggest", json={**body, "use_llm": False}, headers=headers).json()
    again = api.post("/v1/suggest", json={**body, "use_llm": False}, headers=headers).json()
    assert again["cached"] and not first["cached"]
    after = _samples(api)
    action = first["route"]["action"]
    assert _value(after, "copilot_suggestions_total", route=action) == (
        _value(before, "copilot_suggestions_total", route=action) + 1  # the cached one: no run
    )
    assert _value(after, "copilot_stage_duration_seconds_count", stage="intent") == (
        _value(before, "copilot_stage_duration_seconds_count", stage="intent") + 1
    )
    for result in ("hit", "miss"):
        assert _value(after, "copilot_cache_lookups_total", result=result) == (
            _value(before, "copilot_cache_lookups_total", result=result) + 1
        )

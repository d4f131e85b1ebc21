"""What the OpenAPI spec promises, held route by route: strict types, the KB import's 422 body,
the Allow header of a 405, the error statuses every route documents. (test_openapi_fuzz.py
holds the whole spec against generated requests.)"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

Auth = Callable[..., dict[str, str]]
SHOP = "spec-shop"
ASK = [{"role": "customer", "text": "这个杯子能装开水吗"}]


def test_booleans_and_numbers_are_taken_only_as_such(api: TestClient, auth: Auth) -> None:
    agent = auth(role="agent", shops=["demo-pdd"])
    for use_llm in (0, 1, "false", None):
        body = {"shop_id": "demo-pdd", "turns": ASK, "use_llm": use_llm}
        response = api.post("/v1/suggest", json=body, headers=agent)
        assert response.status_code == 422, (use_llm, response.text)
        assert response.json()["error"]["field"] == "use_llm"
    order = {"status": "paid", "items": [{"product_id": "pdd-p01", "quantity": "2"}]}
    quantity = api.post("/v1/suggest", json={"shop_id": "demo-pdd", "turns": ASK, "order": order},
                        headers=agent)  # fmt: skip
    assert quantity.status_code == 422
    assert quantity.json()["error"]["field"] == "order.items.0.quantity"

    turns = "/v1/conversations/spec-strict/turns"
    for ts in (False, "1764000000"):
        pushed = api.post(turns, json={"shop_id": "demo-pdd", "turns": [{**ASK[0], "ts": ts}]},
                          headers=agent)  # fmt: skip
        assert pushed.status_code == 422, (ts, pushed.text)
        assert pushed.json()["error"]["field"] == "turns.0.ts"
    whole = api.post(turns, json={"shop_id": "demo-pdd", "turns": [{**ASK[0], "ts": 1764000000}]},
                     headers=agent)  # fmt: skip
    assert whole.status_code == 200, whole.text  # a JSON integer is a number
    feedback = api.post("/v1/feedback", json={"suggestion_id": "s-x", "action": "sent",
                                              "ms_to_send": True}, headers=agent)  # fmt: skip
    assert feedback.status_code == 422 and feedback.json()["error"]["field"] == "ms_to_send"


def test_every_import_422_has_the_documented_body(api: TestClient, auth: Auth) -> None:
    """The route documents its 422 with `row_errors`: errors that are not about a row carry an
    empty list, so a client reads every 422 of the route the same way."""
    trainer = auth(role="trainer", shops=[SHOP])
    url = f"/v1/shops/{SHOP}/kb/import"
    good = {"file": ("faq.csv", "问题,答案\n能开发票吗,可以的亲\n".encode())}
    cases = {
        "file": api.post(url, headers=trainer),  # no file at all
        "file ": api.post(url, files={"file": ("faq.csv", b"")}, headers=trainer),
        "kind": api.post(url, files=good, data={"kind": "recipe"}, headers=trainer),
        "replace": api.post(url, files=good, data={"replace": "maybe"}, headers=trainer),
    }
    for field, response in cases.items():
        assert response.status_code == 422, (field, response.text)
        body = response.json()
        assert body["row_errors"] == [] and body["error"]["field"] == field.strip(), body
    rows = api.post(url, files={"file": ("faq.csv", "问题,答案\n,没有问题\n".encode())},
                    headers=trainer)  # fmt: skip
    assert rows.status_code == 422 and rows.json()["row_errors"][0]["row"] == 2, rows.text
    other = api.post(f"/v1/shops/{SHOP}/kb/entries", json={"kind": "recipe"}, headers=trainer)
    assert other.status_code == 422 and "row_errors" not in other.json()  # only that route's


def test_kinds_in_queries_are_the_documented_enum(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=["demo-pdd"])
    for path, params in (("search", {"q": "退货", "kind": "0.0"}), ("entries", {"kind": ""})):
        response = api.get(f"/v1/shops/demo-pdd/kb/{path}", params=params, headers=trainer)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["field"].startswith("kind"), response.json()


def test_a_405_allows_every_method_of_the_path(api: TestClient) -> None:
    expected = {
        ("OPTIONS", "/v1/shops/demo-pdd/kb/entries"): "GET, POST",
        ("DELETE", "/v1/shops/demo-pdd/kb/entries"): "GET, POST",
        ("PATCH", "/v1/shops/demo-pdd/kb/entries/pdd-faq-01"): "DELETE, GET, PUT",
        ("GET", "/v1/suggest"): "POST",
    }
    for (method, path), allow in expected.items():
        response = api.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow, (method, path)
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_spec_documents_every_error_a_route_can_answer(api: TestClient, auth: Auth) -> None:
    spec = api.get("/openapi.json", headers=auth()).json()  # any valid key reads the spec
    operations = [(path, method, operation) for path, methods in spec["paths"].items()
                  for method, operation in methods.items() if path.startswith("/v1")]  # fmt: skip
    assert len(operations) > 10
    for path, method, operation in operations:
        codes = set(operation["responses"])
        wanted = {"401", "413", "429", "503"} | ({"400"} if "requestBody" in operation else set())
        assert wanted <= codes, (method, path, sorted(codes))
        assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)

    trainer = auth(role="trainer", shops=[SHOP])
    not_json = api.post(f"/v1/shops/{SHOP}/kb/entries", content=b"{", headers=trainer | {
        "Content-Type": "application/json"})  # fmt: skip
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"

"""Trainers' knowledge-base routes through HTTP: entries CRUD, file import (all or nothing, row
errors), search preview, history import; roles and shop scope."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from dates import TEST_TODAY
from fastapi.testclient import TestClient
from openpyxl import Workbook

Auth = Callable[..., dict[str, str]]
SHOP = "kb-crud-shop"
BASE = f"/v1/shops/{SHOP}/kb"
FAQ = {
    "kind": "faq",
    "id": "crud-invoice",
    "question": "可以开发票吗",
    "answer": "可以的亲，下单后在订单详情里申请电子发票，1-3个工作日开好~",
    "alt_questions": ["能开发票吗"],
}
GOOD_CSV = (
    "问题,答案\n多久发货,下单后48小时内发货哦\n发什么快递,默认中通快递，偏远地区发邮政\n"
).encode()
# Row 3 has no question, row 4 a price that is not a number: both reported, nothing applied.
BAD_CSV = (
    "类型,问题,答案,商品ID,名称,价格\n"
    "问答,支持七天无理由吗,支持的亲,,,\n"
    "问答,,不议价哦亲,,,\n"
    "商品,,,crud-p1,测试水杯,六十九\n"
).encode()


def test_entries_crud_and_search_preview(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=[SHOP])
    created = api.post(f"{BASE}/entries", json=FAQ, headers=trainer)
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    assert created.json()["entry"]["question"] == "可以开发票吗"
    again = api.post(f"{BASE}/entries", json=FAQ, headers=trainer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "entry_exists"

    listed = api.get(f"{BASE}/entries", params={"kind": "faq", "q": "发票"}, headers=trainer)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1 and listed.json()["entries"][0]["id"] == "crud-invoice"
    assert api.get(f"{BASE}/entries", params={"q": "退货"}, headers=trainer).json()["total"] == 0

    changed = {**FAQ, "answer": "可以的亲，电子发票在订单详情里申请，当天开好~"}
    put = api.put(f"{BASE}/entries/crud-invoice", json=changed, headers=trainer)
    assert put.status_code == 200 and put.json()["version"] == version + 1
    got = api.get(f"{BASE}/entries/crud-invoice", headers=trainer)
    assert got.json()["entry"]["answer"].endswith("当天开好~")

    hits = api.get(f"{BASE}/search", params={"q": "能开票么"}, headers=trainer).json()["hits"]
    assert hits[0]["entry_id"] == "crud-invoice" and "当天开好" in hits[0]["entry"]["answer"]

    deleted = api.delete(f"{BASE}/entries/crud-invoice", headers=trainer)
    assert deleted.status_code == 200 and deleted.json() == {
        "deleted": "crud-invoice",
        "version": version + 2,
    }
    gone = api.get(f"{BASE}/entries/crud-invoice", headers=trainer)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "entry_not_found"
    assert api.delete(f"{BASE}/entries/crud-invoice", headers=trainer).status_code == 404
    missing_put = api.put(f"{BASE}/entries/nope", json=FAQ | {"id": None}, headers=trainer)
    assert missing_put.status_code == 404


def test_bad_entries_name_the_field(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=[SHOP])
    cases = [
        ({"question": "没有类型", "answer": "好的"}, "kind"),
        ({"kind": "faq", "question": "没有答案"}, "answer"),
        ({"kind": "product", "id": "p-x", "title": "水杯", "price": "很贵"}, "price"),
    ]
    for body, field in cases:
        response = api.post(f"{BASE}/entries", json=body, headers=trainer)
        assert response.status_code == 422, response.text
        assert field in (response.json()["error"]["field"] or ""), response.json()
    mismatch = api.put(f"{BASE}/entries/a", json=FAQ, headers=trainer)
    assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "id"
    bad_kind = api.get(f"{BASE}/entries", params={"kind": "recipe"}, headers=trainer)
    assert bad_kind.status_code == 422
    unknown = api.get("/v1/shops/no-such-shop/kb/entries", headers=auth(role="admin"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "shop_not_found"


def _upload(api: TestClient, headers: dict[str, str], name: str, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return api.post(f"{BASE}/import", files={"file": (name, data)}, data=form, headers=headers)


def test_import_applies_nothing_when_any_row_is_wrong(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=[SHOP])
    ok = _upload(api, trainer, "faq.csv", GOOD_CSV)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["added"], ok.json()["updated"], ok.json()["unchanged"]) == (2, 0, 0)
    before = api.get(f"{BASE}/entries", headers=trainer).json()

    bad = _upload(api, trainer, "mixed.csv", BAD_CSV)
    assert bad.status_code == 422
    body = bad.json()
    assert body["error"]["code"] == "import_failed" and body["error"]["field"] == "file"
    rows = {(e["row"], e["column"]) for e in body["row_errors"]}
    assert {r for r, _ in rows} == {3, 4}, body["row_errors"]
    assert all(e["file"] == "mixed.csv" for e in body["row_errors"])
    assert api.get(f"{BASE}/entries", headers=trainer).json() == before  # nothing applied

    again = _upload(api, trainer, "faq.csv", GOOD_CSV)
    assert (again.json()["added"], again.json()["unchanged"]) == (0, 2)
    assert again.json()["version"] > ok.json()["version"] and again.json()["left_out"] == []

    # a question with no answer yet is the trainer's to-do: the rest imports, and it is named
    todo = _upload(api, trainer, "todo.csv", "问题,答案\n能开专票吗,\n包邮吗,包邮的亲\n".encode())
    assert todo.status_code == 200, todo.text
    assert todo.json()["added"] == 1 and todo.json()["left_out"] == [
        "todo.csv, row 2, column '答案': no answer yet: left out until the sheet gives it one"
    ]


def test_uploads_may_be_larger_than_json_bodies(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=[SHOP])
    settings = api.app.state.services.settings  # type: ignore[attr-defined]
    assert settings.max_upload_bytes > settings.max_body_bytes
    sheet = "问题,答案\n" + "这个杯子能装开水吗,可以的亲\n" * (settings.max_body_bytes // 30)
    assert len(sheet.encode()) > settings.max_body_bytes
    big = _upload(
        api, trainer, "big.csv", sheet.replace("答案", "回复内容X").encode()
    )  # bad header
    assert big.status_code == 422, big.text  # read and refused for its content, not its size


def test_import_xlsx_jsonl_and_markdown(api: TestClient, auth: Auth) -> None:
    trainer = auth(role="trainer", shops=["kb-import-shop"])
    base = "/v1/shops/kb-import-shop/kb"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "商品"
    sheet.append(["商品ID", "名称", "价格", "卖点"])
    sheet.append(["imp-p1", "便携榨汁杯", 79, "USB充电|一次榨两个橙子"])
    buffer = io.BytesIO()
    book.save(buffer)
    jsonl = json.dumps({"kind": "policy", "title": "退货政策", "content": "签收7天内可无理由退货"},
                       ensure_ascii=False).encode()  # fmt: skip
    markdown = "## 榨汁杯能榨冰块吗\n不建议哦亲，冰块会损伤刀头~\n".encode()
    for name, data in (("商品.xlsx", buffer.getvalue()), ("policy.jsonl", jsonl),
                       ("faq.md", markdown)):  # fmt: skip
        response = api.post(f"{base}/import", files={"file": (name, data)}, headers=trainer)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["added"] == 1
    kinds = [e["kind"] for e in api.get(f"{base}/entries", headers=trainer).json()["entries"]]
    assert sorted(kinds) == ["faq", "policy", "product"]
    replaced = api.post(
        f"{base}/import",
        files={"file": ("faq.md", markdown)},
        data={"replace": "true"},
        headers=trainer,
    )
    assert replaced.status_code == 200
    assert api.get(f"{base}/entries", headers=trainer).json()["total"] == 1
    empty = api.post(f"{base}/import", files={"file": ("x.csv", b"")}, headers=trainer)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "file"
    no_file = api.post(f"{base}/import", headers=trainer)
    assert no_file.status_code == 422 and no_file.json()["error"]["field"] == "file"


def test_kb_routes_need_a_trainer_of_the_shop(api: TestClient, auth: Auth) -> None:
    requests = [
        ("GET", f"{BASE}/entries", None),
        ("POST", f"{BASE}/entries", FAQ),
        ("GET", f"{BASE}/search?q=发票", None),
        ("DELETE", f"{BASE}/entries/crud-invoice", None),
    ]
    for method, path, body in requests:
        assert api.request(method, path, json=body).status_code == 401
        for headers in (auth(role="agent", shops=[SHOP]), auth(role="trainer", shops=["demo-ks"])):
            response = api.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"]["code"] == "forbidden"
    upload = _upload(api, auth(role="trainer", shops=["demo-ks"]), "faq.csv", GOOD_CSV)
    assert upload.status_code == 403


def test_history_import_builds_a_response_bank(api: TestClient, auth: Auth) -> None:
    shop = "hist-shop"
    chats = [
        {"conversation_id": f"h{n}", "turns": [
            {"role": "customer", "text": question},
            {"role": "agent", "text": answer},
        ]}
        for n, (question, answer) in enumerate([
            ("多久发货", "亲，下单后48小时内发货哦~"),
            ("什么时候发货呀", "亲，下单后48小时内发货哦~"),
            ("发什么快递", "亲，默认发中通快递，偏远地区发邮政哦"),
            ("可以开发票吗", "可以的亲，在订单详情里申请电子发票就好~"),
        ])
    ]  # fmt: skip
    data = "\n".join(json.dumps(c, ensure_ascii=False) for c in chats) + "\n{not json\n"
    trainer = auth(role="trainer", shops=[shop])
    path = f"/v1/shops/{shop}/history/import"
    response = api.post(path, files={"file": ("chats.jsonl", data.encode())}, headers=trainer)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["format"] == "jsonl" and report["conversations"] == 4
    assert report["replies"] >= 2 and report["version"] >= 1
    assert [s["line"] for s in report["skipped"]] == [5]
    bank = api.app.state.services.suggester.history  # type: ignore[attr-defined]
    found = bank.search(shop, "啥时候发货")
    assert found and "48小时" in found[0].text

    bad = api.post(path, files={"file": ("chats.jsonl", b"{not json\n")}, headers=trainer)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "import_failed"
    assert bad.json()["line_errors"][0]["line"] == 1
    forbidden = api.post(
        path,
        files={"file": ("chats.jsonl", data.encode())},
        headers=auth(role="agent", shops=[shop]),
    )
    assert forbidden.status_code == 403


@pytest.mark.dates
def test_staleness_lists_promotions_ending_soon_and_entries_quoting_ended_ones(
    api: TestClient, auth: Auth
) -> None:
    shop = "kb-stale-shop"
    trainer = auth(role="trainer", shops=[shop])

    def day(offset: int) -> str:
        return (TEST_TODAY + timedelta(days=offset)).isoformat()

    rows = [
        {"kind": "promotion", "id": "over", "title": "周末满300减30", "rule": "满300减30",
         "starts": day(-20), "ends": day(-1)},
        {"kind": "promotion", "id": "soon", "title": "配件任选2件9折", "rule": "满2件9折",
         "starts": day(-5), "ends": day(3)},
        {"kind": "faq", "id": "old-deal", "question": "有活动吗", "answer": "亲，现在满300减30哦"},
        {"kind": "faq", "id": "parts", "question": "配件打折吗", "answer": "亲，配件任选2件9折"},
    ]  # fmt: skip
    for row in rows:
        assert (
            api.post(f"/v1/shops/{shop}/kb/entries", json=row, headers=trainer).status_code == 201
        )
    got = api.get(f"/v1/shops/{shop}/kb/staleness", params={"within": 7}, headers=trainer)
    assert got.status_code == 200, got.text
    report = got.json()
    assert report["day"] == TEST_TODAY.isoformat() and report["attention"] == 2
    assert [(p["id"], p["ends"], p["linked_entries"]) for p in report["ending"]] == [
        ("soon", day(3), ["parts"])
    ]
    assert [p["id"] for p in report["expired"]] == ["over"]
    assert [(e["entry_id"], e["reasons"]) for e in report["stale"]] == [
        ("old-deal", [f"周末满300减30（{md(day(-1))}已结束）"])
    ]
    quiet = api.get(f"/v1/shops/{shop}/kb/staleness", params={"within": 1}, headers=trainer)
    assert quiet.json()["ending"] == [] and quiet.json()["attention"] == 1
    bad = api.get(f"/v1/shops/{shop}/kb/staleness", params={"within": "NaN"}, headers=trainer)
    assert bad.status_code == 422
    other = api.get(f"/v1/shops/{shop}/kb/staleness", headers=auth(role="trainer", shops=["x"]))
    assert other.status_code == 403


def md(iso: str) -> str:
    parsed = date.fromisoformat(iso)
    return f"{parsed.month}月{parsed.day}日"

"""The trainer console in Chromium: an import with a bad row is refused with the row shown and
nothing applied; the fixed file goes in (its question without an answer yet left out, and
named) and the search preview finds the new entry."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

HEADER = "类型,ID,问题,答案,相似问法\n"
GOOD_ROW = "问答,ui-faq-flight,保温杯能带上飞机吗？,亲，空杯可以带上飞机哦～过安检前请把水倒掉，登机后可以找空乘要热水,坐飞机能带吗|过安检可以带杯子吗\n"
BAD_ROW = "问答,ui-faq-dish,,亲，不建议放洗碗机哦,洗碗机能洗吗\n"  # an answer to no question
TODO_ROW = "问答,ui-faq-todo,保温杯能装碳酸饮料吗？,,\n"  # the trainer's to-do
FIXED_ROW = "问答,ui-faq-dish,保温杯可以放进洗碗机吗？,亲，不建议放洗碗机哦，高温高压会影响真空层和外壳涂层，用温水加软毛刷清洗就好～,洗碗机能洗吗\n"


def _login(page, service_url: str, key: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(service_url + "/ui/trainer")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body.authed")


def _entry_status(service_url: str, key: str, entry_id: str) -> int:
    return httpx.get(
        f"{service_url}/v1/shops/demo-pdd/kb/entries/{entry_id}",
        headers={"Authorization": f"Bearer {key}"},
    ).status_code


def test_import_with_a_bad_row_then_fixed_then_found_by_search_preview(
    page, service_url: str, make_key, tmp_path: Path, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    key = make_key("trainer", "demo-pdd")
    _login(page, service_url, key)
    assert page.input_value("#shop") == "demo-pdd"
    page.wait_for_selector("#kb-table tbody tr[data-id]")

    bad = tmp_path / "faq.csv"
    bad.write_text(HEADER + GOOD_ROW + BAD_ROW, encoding="utf-8")
    page.click(".tabs button[data-tab=import]")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-form button[type=submit]")
    errors = page.locator("#row-errors tbody tr")
    errors.first.wait_for(timeout=30_000)
    assert errors.count() == 1
    cells = errors.first.locator("td").all_inner_texts()
    assert cells[1:3] == ["3", "问题"]
    assert cells[3].startswith("不能为空")  # the importer's English, in Chinese
    assert "未导入任何内容" in page.inner_text("#import-error")
    page.screenshot(path=str(screenshots / "trainer-import-error.png"), full_page=True)
    # All or nothing: not even the good row went in.
    assert _entry_status(service_url, key, "ui-faq-flight") == 404

    fixed = tmp_path / "faq-fixed.csv"
    fixed.write_text(HEADER + GOOD_ROW + FIXED_ROW + TODO_ROW, encoding="utf-8")
    page.set_input_files("#import-file", str(fixed))
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-ok", timeout=60_000)
    assert "新增 2" in page.inner_text("#import-ok")
    assert page.locator("#row-errors").count() == 0
    (left_out,) = page.locator("#import-left-out li").all_inner_texts()
    assert "row 4" in left_out and "no answer yet" in left_out
    assert _entry_status(service_url, key, "ui-faq-todo") == 404
    assert _entry_status(service_url, key, "ui-faq-dish") == 200

    page.click(".tabs button[data-tab=search]")
    page.fill("#search-q", "坐飞机可以带这个杯子过安检吗")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#search-table tbody tr")
    found = page.locator("#search-table tbody tr[data-id=ui-faq-flight]")
    assert found.count() == 1
    headers = page.locator("#search-table thead th").all_inner_texts()
    assert any(h.startswith("dense") for h in headers) and any(
        h.startswith("keyword") for h in headers
    )
    assert found.locator("td").first.inner_text() == "1"
    page.screenshot(path=str(screenshots / "trainer-search-preview.png"), full_page=True)


def test_create_edit_and_delete_an_entry(page, service_url: str, make_key) -> None:  # type: ignore[no-untyped-def]
    key = make_key("trainer", "demo-pdd")
    _login(page, service_url, key)
    page.click("#kb-new")
    page.fill("#entry-id", "ui-faq-gift")
    page.fill("#entry-question", "可以帮忙包装成礼物吗？")
    page.fill("#entry-answer", "亲，可以的～下单时备注“礼物包装”，我们会去掉价签并用礼盒包装哦。")
    page.click("#entry-save")
    page.wait_for_selector("#entry-form", state="hidden", timeout=30_000)
    page.fill("#kb-q", "礼物")
    page.click("#kb-filter button[type=submit]")
    page.wait_for_selector("#kb-table tr[data-id=ui-faq-gift]")
    assert _entry_status(service_url, key, "ui-faq-gift") == 200

    page.click("#kb-table tr[data-id=ui-faq-gift] button:text('编辑')")
    page.fill("#entry-answer", "亲，可以的～下单备注“礼物”，免费礼盒包装。")
    page.click("#entry-save")
    page.wait_for_selector("#entry-form", state="hidden")
    entry = httpx.get(
        f"{service_url}/v1/shops/demo-pdd/kb/entries/ui-faq-gift",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    assert (
        entry.get("answer", entry.get("entry", {}).get("answer"))
        == "亲，可以的～下单备注“礼物”，免费礼盒包装。"
    )

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#kb-table tr[data-id=ui-faq-gift] button:text('删除')")
    page.wait_for_selector("#kb-table tr[data-id=ui-faq-gift]", state="detached")
    assert _entry_status(service_url, key, "ui-faq-gift") == 404


GAP_QUESTIONS = ("你们有线下实体店吗", "有没有线下实体店可以去看看", "你们有线下实体店吗")
COVERED_QUESTION = "保温杯能保温多久"


def _suggest_and_show(service_url: str, key: str, text: str) -> dict:  # type: ignore[type-arg]
    """A suggestion as the sidebar gets it, shown to the agent (and its first candidate
    inserted when there is one), so the stats have something in every breakdown."""
    auth = {"Authorization": f"Bearer {key}"}
    response = httpx.post(
        f"{service_url}/v1/suggest",
        json={
            "shop_id": "demo-pdd",
            "turns": [{"role": "customer", "text": text}],
            "use_llm": False,
        },
        headers=auth,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    suggestion = response.json()
    events = [{"action": "shown"}]
    if suggestion["candidates"]:
        first = suggestion["candidates"][0]
        events.append(
            {"action": "inserted", "candidate_id": first["id"], "final_text": first["text"]}
        )
    for event in events:
        posted = httpx.post(
            f"{service_url}/v1/feedback",
            json={"suggestion_id": suggestion["suggestion_id"], **event},
            headers=auth,
        )
        assert posted.status_code == 202, posted.text
    return suggestion


def test_a_gap_drafts_a_faq_and_the_dashboard_draws_charts(
    page, service_url: str, make_key, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    agent_key, key = make_key("agent", "demo-pdd"), make_key("trainer", "demo-pdd")
    # Questions the demo shop's knowledge does not cover show up as one gap; a covered one
    # gives the dashboard an accepted suggestion from the KB.
    for text in GAP_QUESTIONS:
        _suggest_and_show(service_url, agent_key, text)
    assert _suggest_and_show(service_url, agent_key, COVERED_QUESTION)["candidates"]
    _login(page, service_url, key)
    page.click(".tabs button[data-tab=gaps]")
    gap = page.locator("#gaps-result .gap", has_text="实体店").first
    gap.wait_for(timeout=15_000)
    question = gap.locator("strong").inner_text()
    assert question in GAP_QUESTIONS
    page.screenshot(path=str(screenshots / "trainer-gaps.png"), full_page=True)
    gap.locator("button").click()
    assert page.is_visible("#tab-kb") and page.is_visible("#entry-form")
    assert page.input_value("#entry-kind") == "faq"
    assert page.input_value("#entry-question") == question
    assert set(GAP_QUESTIONS) - {question} <= set(page.input_value("#entry-alt").split(" | "))

    page.click(".tabs button[data-tab=stats]")
    page.wait_for_selector("#stats-figures")
    suggestions = page.locator(".figure[data-label=建议] .value").inner_text()
    assert int(suggestions) >= len(set(GAP_QUESTIONS))
    assert page.locator(".chart svg").count() == 4
    for chart in page.locator(".chart").all():  # by intent, source, route, day: each has data
        assert chart.locator("rect.bar-shown").count() >= 1
    page.screenshot(path=str(screenshots / "trainer-dashboard.png"), full_page=True)


@pytest.mark.dates
def test_the_shop_badge_shows_promotions_ending_soon_and_opens_the_staleness_list(
    page, service_url: str, make_key, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    # The demo shop was loaded today: its 满99减10 ends in four days (kb/demo_shops.py).
    _login(page, service_url, make_key("trainer", "demo-pdd"))
    badge = page.locator("#stale-badge")
    badge.wait_for(state="visible", timeout=30_000)
    assert "1 个活动即将结束" in badge.inner_text()
    badge.click()
    rows = page.locator("#stale-result tbody tr")
    rows.first.wait_for(timeout=30_000)
    first = rows.first.locator("td").all_inner_texts()
    assert first[0] == "pdd-promo-01" and "pdd-faq-26" in first[3]
    page.screenshot(path=str(screenshots / "trainer-staleness.png"), full_page=True)

"""The `copilot` command line, in process, on a real embedded Redis and the real embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dates import TEST_TODAY
from typer.testing import CliRunner

from cli import app
from service.settings import get_settings

# The commands build their models from the settings, as a user's shell would: the real ones.
pytestmark = pytest.mark.slow
runner = CliRunner()

FAQ_CSV = """问题,答案,相似问法,商品ID
这个杯子能装开水吗,可以的亲，316不锈钢内胆耐高温。,能装热水吗|可以倒开水吗,cup-1
多久发货,亲，下单后48小时内发货。,什么时候发货|几天能发
"""
PRODUCTS_CSV = """商品ID,名称,价格,规格,卖点,关联商品
cup-1,316不锈钢保温杯,89,500ml|750ml=109,12小时保温|一键开盖,brush-1
brush-1,长柄杯刷,9.9,,海绵头不伤杯,
"""


@pytest.fixture()
def env(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_MODELS_DIR", str(models_dir))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def search_ids(shop: str, query: str) -> list[str]:
    return [
        hit["entry_id"] for hit in json.loads(run("kb", "search", shop, query, "-k", "3", "--json"))
    ]


def test_import_search_export_import_round_trip(env: Path) -> None:
    faq, products = env / "faq.csv", env / "products.csv"
    faq.write_text(FAQ_CSV, encoding="utf-8-sig")
    products.write_text(PRODUCTS_CSV, encoding="gbk")

    assert "4 added" in run("kb", "import", "shop-a", str(faq), str(products))
    hits = json.loads(run("kb", "search", "shop-a", "杯子可以装热水不", "--json"))
    assert hits[0]["kind"] == "faq" and "开水" in hits[0]["entry"]["question"]
    assert set(hits[0]["retrievers"]) <= {"dense", "keyword", "kind_hint"}

    exported = env / "shop-a.jsonl"
    assert "exported 4 entries" in run("kb", "export", "shop-a", str(exported))
    assert "4 added" in run("kb", "import", "shop-b", str(exported))
    for query in ["杯子可以装热水不", "保温杯多少钱", "几天发货"]:
        assert search_ids("shop-a", query) == search_ids("shop-b", query)

    assert "4 unchanged, 0 texts embedded" in run("kb", "import", "shop-a", str(faq), str(products))
    listing = run("kb", "list", "shop-a")
    assert "cup-1" in listing and "brush-1" in listing
    assert json.loads(run("kb", "show", "shop-a", "cup-1"))["price"] == "89"
    run("kb", "delete", "shop-a", "brush-1")
    assert "brush-1" not in run("kb", "list", "shop-a")
    stats = run("kb", "stats")
    assert "shop-a" in stats and "shop-b" in stats


def test_errors_are_one_clear_message_and_exit_1(env: Path) -> None:
    bad = env / "bad.csv"
    bad.write_text("问题,答案\n,包邮的亲\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "import", "shop-a", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv, row 2, column '问题'" in result.output
    assert "nothing was changed" in result.output
    todo = env / "todo.csv"  # a question without its answer yet: left out, and said
    todo.write_text("问题,答案\n包邮吗,\n发什么快递,中通\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "import", "shop-a", str(todo)])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "left out todo.csv, row 2" in result.output

    missing = runner.invoke(app, ["kb", "search", "no-such-shop", "在吗"])
    assert missing.exit_code == 1
    assert "no-such-shop" in missing.output and "copilot kb import" in missing.output


def test_setup_is_idempotent(env: Path) -> None:
    output = run("setup")
    assert "already present" in output and "nothing to do" in output


def test_demo_load_then_search(env: Path) -> None:
    output = run("demo", "load")
    assert "demo-pdd" in output and "demo-ks" in output and "demo-express" in output
    assert "already loaded" in run("demo", "load")
    assert all(e.startswith("pdd-") for e in search_ids("demo-pdd", "这个杯子能装开水吗"))


@pytest.mark.dates
def test_suggest_prints_the_output_object(env: Path) -> None:
    run("demo", "load")
    order = env / "order.json"
    order.write_text(
        json.dumps({"status": "unpaid", "items": [{"product_id": "pdd-p01", "quantity": 2}]}),
        encoding="utf-8",
    )
    context = env / "context.json"
    context.write_text(
        json.dumps([{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "亲，在的"}]),
        encoding="utf-8",
    )
    out = json.loads(
        run(
            "suggest",
            "demo-pdd",
            "两个杯子有优惠吗",
            "--order",
            str(order),
            "--context",
            str(context),
            "--no-llm",
            "--json",
        )
    )
    assert {"intent", "route", "candidates", "upsell", "timings_ms"} <= set(out)
    assert (
        out["intent"]["label"]
        and 0 <= out["intent"]["confidence"] <= 1
        and len(out["intent"]["top"]) == 3
    )
    assert out["route"]["action"] in {"assist", "auto", "handoff"} and out["route"]["reasons"]
    assert 1 <= len(out["candidates"]) <= 3
    assert any("¥128" in c["text"] for c in out["candidates"])
    assert out["upsell"]["kind"] == "payment_reminder"
    text = run("suggest", "demo-pdd", "两个杯子有优惠吗", "--order", str(order), "--no-llm")
    assert "intent" in text and "route" in text and "upsell" in text

    bad = env / "bad_order.json"
    bad.write_text(json.dumps({"status": "lost"}), encoding="utf-8")
    result = runner.invoke(app, ["suggest", "demo-pdd", "在吗", "--order", str(bad), "--no-llm"])
    assert result.exit_code == 1 and "order.status" in result.output


def test_intents_train_checks_the_whole_file_first(env: Path) -> None:
    good = env / "examples.jsonl"
    good.write_text('{"text": "杯子能刻字吗", "label": "product_question"}\n', encoding="utf-8")
    assert "added 1 examples for demo-pdd" in run(
        "intents", "train", str(good), "--shop", "demo-pdd"
    )
    bad = env / "bad.jsonl"
    bad.write_text('{"text": "杯子能刻字吗", "label": "engraving"}\n', encoding="utf-8")
    result = runner.invoke(app, ["intents", "train", str(bad)])
    assert result.exit_code == 1 and "bad.jsonl" in result.output and "line 1" in result.output


@pytest.mark.dates
def test_kb_list_expiring_shows_what_ends_soon_and_what_is_already_stale(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("demo", "load")
    assert "already loaded today" in run("demo", "load")
    soon = run("kb", "list", "demo-pdd", "--expiring", "7d")
    assert "pdd-promo-01" in soon and "pdd-faq-26" in soon  # ends in 4 days, and what names it
    assert "pdd-promo-03" not in soon  # starts in 5 days, ends in 35
    monkeypatch.setenv("COPILOT_TODAY", (TEST_TODAY + timedelta(days=10)).isoformat())
    get_settings.cache_clear()
    later = run("kb", "list", "demo-pdd", "--expiring", "7d")
    assert "活动已结束" in later and "faq 过时" in later and "pdd-faq-26" in later
    bad = runner.invoke(app, ["kb", "list", "demo-pdd", "--expiring", "soon"])
    assert bad.exit_code == 2 and "a number of days" in bad.output


def test_intents_adopt_proposes_then_applies_only_when_asked(env: Path) -> None:
    faq, scripts = env / "faq.csv", env / "scripts.csv"
    faq.write_text(FAQ_CSV, encoding="utf-8")
    scripts.write_text("场景,话术\n进店欢迎,亲，欢迎光临～\n", encoding="utf-8")
    run("kb", "import", "shop-a", str(faq), str(scripts))
    proposed = run("intents", "adopt", "shop-a")
    assert "greeting" in proposed and "--apply" in proposed
    script_id = json.loads(run("kb", "search", "shop-a", "欢迎", "--json"))[0]["entry_id"]
    assert json.loads(run("kb", "show", "shop-a", script_id))["intent"] == ""  # not yet
    assert "applied" in run("intents", "adopt", "shop-a", "--apply")
    assert json.loads(run("kb", "show", "shop-a", script_id))["intent"] == "greeting"

"""A trainer's own workbook imports as a person reads it: titles and notes above the header,
section rows, the trainer's header words, one price per spec, stock in words, extra columns as
facts, promotions scoped by name, tiered and dated without a year. No Redis, no model."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from workbooks import write_workbook

from kb.errors import KBImportError
from kb.files.importers import load_bytes, load_files, read_files
from kb.files.sheets import header_row, section_row, split_specs
from kb.types import FAQ, Policy, Product, Promotion, Script, Variant

SHOP = "pet-shop"
D = Decimal

PRODUCTS = [
    ["汪喵优选 在售商品清单", None, None, None, None, None, None],
    ["（11月底整理）价格有变动以后台为准", None, None, None, None, None, None],
    [None] * 7,
    ["商品编码", "名称", "规格", "价格", "库存", "保质期", "备注"],
    [
        " PS-01",
        "幼猫粮 鸡肉蛋黄配方",
        "1.5kg / 4kg",
        "1.5kg ¥59\n4kg ¥139",
        "有货",
        "18个月",
        "“139那个”=4kg装",
    ],
    [
        "PS-07",
        "豆腐猫砂",
        "原味、绿茶味",
        "¥19.9",
        "原味现货；绿茶味缺货，12月中旬补货",
        None,
        None,
    ],
    ["GX01", "赣南脐橙", "5斤 中果\n5斤 大果", "29.9\n39.9", "现货", None, None],
    ["PS-09", "瓦楞纸猫抓板", "L/M", "L 29.9元 / M 19.9元", "缺货", None, None],
    ["PS-10", "宠物智能饮水机", None, "139元/台", "12", None, None],
]
FAQS = [
    ["常见问题汇总（不懂的先查这里再问组长）", None, None, None],
    ["序号", "客户问", "怎么回", "备注"],
    ["【猫粮】", None, None, None],
    ["1", "幼猫吃哪款粮？", "亲，2-12月龄的幼猫吃幼猫粮鸡肉蛋黄配方哦～", "别推成猫粮"],
    ["【猫砂】", None, None, None],
    ["2", "豆腐砂能冲马桶吗", "可以的亲，少量多次冲。", None],
]
POLICIES = [
    ["售后 & 物流规则（2026版）", None, None],
    ["类型", "具体规则", "备注"],
    ["7天无理由退换", "签收后7天内未拆封的商品支持无理由退换。", "超过的报组长"],
    ["破损/漏液", "签收48小时内拍照联系客服。", None],
]
PROMOTIONS = [
    ["店铺活动一览", None, None, None, None],
    ["活动", "开始日期", "截止日期", "优惠内容", "参加的商品"],
    ["双11囤粮节", datetime(2026, 11, 1), "2026.11.11 23:59", "猫粮满199减30", "PS-01、PS-07"],
    ["双12年货节", "12月12日", "12月14日", "全店满99减10、满199减25", "全店"],
    ["冬季囤果季", "2026/12/1", "2027/1/31", "全店满59减5", "全店（脐橙除外）"],
    ["猫砂秒杀", "2026年12月1日 0点", "2026.12.8", "豆腐猫砂秒杀价59.9元", "豆腐猫砂"],
]
SCRIPTS = [
    ["场景", "话术", "什么时候用"],
    ["进店欢迎", "亲，欢迎来到汪喵优选🐾", "进线第一句"],
]


def workbook(tmp_path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    merged_title = {"商品": ["A1:G1"]}  # a merged title row, as trainers make them
    return write_workbook(tmp_path / "kb.xlsx", sheets, merged_title if "商品" in sheets else {})


@pytest.fixture()
def entries(tmp_path: Path) -> dict[str, Any]:
    sheets = {"商品": PRODUCTS, "常见问题": FAQS, "政策": POLICIES, "活动": PROMOTIONS,
              "话术": SCRIPTS}  # fmt: skip
    loaded = load_files(SHOP, [workbook(tmp_path, sheets)])
    return {e.title if isinstance(e, Promotion) else e.id: e for e in loaded}


def test_products_read_past_the_title_rows_with_a_price_per_spec(entries: dict[str, Any]) -> None:
    food = entries["PS-01"]
    assert isinstance(food, Product) and food.title == "幼猫粮 鸡肉蛋黄配方"
    assert (food.price, food.variants) == (D(59), (Variant("1.5kg", D(59)), Variant("4kg", D(139))))
    assert "保质期：18个月" in food.selling_points  # a column we have no field for is a fact
    assert food.usage_notes == "“139那个”=4kg装"
    oranges = entries["GX01"]
    assert oranges.variants == (Variant("5斤 中果", D("29.9")), Variant("5斤 大果", D("39.9")))
    board = entries["PS-09"]
    assert board.variants == (Variant("L", D("29.9")), Variant("M", D("19.9")))
    assert board.price == D("19.9") and not board.in_stock
    assert entries["PS-10"].price == D(139) and entries["PS-10"].in_stock  # 12 in stock


def test_stock_in_words_is_read_and_kept_for_the_agent(entries: dict[str, Any]) -> None:
    litter = entries["PS-07"]
    assert litter.in_stock  # some flavour is in stock
    assert "绿茶味缺货，12月中旬补货" in litter.usage_notes
    assert [v.name for v in litter.variants] == ["原味", "绿茶味"]


def test_faqs_skip_section_rows_and_ignore_the_trainers_notes(entries: dict[str, Any]) -> None:
    faqs = [e for e in entries.values() if isinstance(e, FAQ)]
    assert sorted(f.question for f in faqs) == ["幼猫吃哪款粮？", "豆腐砂能冲马桶吗"]
    assert all("组长" not in f.answer and "别推" not in f.answer for f in faqs)


def test_a_policy_sheets_type_column_names_the_policy(entries: dict[str, Any]) -> None:
    policies = {e.title: e for e in entries.values() if isinstance(e, Policy)}
    assert set(policies) == {"7天无理由退换", "破损/漏液"}
    assert "报组长" not in policies["7天无理由退换"].content


def test_promotions_are_scoped_tiered_and_dated_as_written(entries: dict[str, Any]) -> None:
    old = entries["双11囤粮节"]
    assert (old.starts, old.ends, old.product_ids) == (
        date(2026, 11, 1),
        date(2026, 11, 11),
        ("PS-01", "PS-07"),
    )
    tiers = [entries["双12年货节（满99减10）"], entries["双12年货节（满199减25）"]]
    for tier in tiers:  # the year of the sheet's other dates; the whole shop
        assert (tier.starts, tier.ends, tier.product_ids) == (
            date(2026, 12, 12),
            date(2026, 12, 14),
            (),
        )
    assert [t.rule.threshold for t in tiers] == [D(99), D(199)]
    winter = entries["冬季囤果季"]
    assert winter.ends == date(2027, 1, 31) and "GX01" not in winter.product_ids
    assert set(winter.product_ids) == {"PS-01", "PS-07", "PS-09", "PS-10"}
    flash = entries["猫砂秒杀"]
    assert (flash.starts, flash.ends, flash.product_ids) == (
        date(2026, 12, 1),
        date(2026, 12, 8),
        ("PS-07",),
    )
    assert flash.rule.type == "other"  # a flash price: listed and dated, never computed
    assert any(isinstance(e, Script) and e.title == "进店欢迎" for e in entries.values())


def test_a_question_without_its_answer_is_left_out_and_said(tmp_path: Path) -> None:
    """The trainer's to-do (a question no one has answered yet) does not stop the shop's
    import, and is not mistaken for a section row either: the import says where it is."""
    rows = [["客户问", "怎么回"], ["能开发票吗", None], ["发什么快递", "默认中通"]]
    loaded = read_files(SHOP, [workbook(tmp_path, {"常见问题": rows})])
    assert [e.question for e in loaded.entries if isinstance(e, FAQ)] == ["发什么快递"]
    (row,) = loaded.left_out
    assert (row.row, row.column) == (2, "怎么回") and "no answer yet" in row.message
    rows[2][0] = None  # an answer without its question is an error: nothing to match it by
    with pytest.raises(KBImportError) as caught:
        load_files(SHOP, [workbook(tmp_path, {"常见问题": rows})])
    (error,) = caught.value.errors
    assert (error.row, error.column) == (3, "客户问") and "must not be empty" in error.message


def test_helpers() -> None:
    rows = [["店铺资料"], ["备注：以后台为准"], ["货号", "品名", "日常价"], ["A1", "杯子", "9"]]
    assert header_row(rows, lambda h: h in {"货号", "品名", "日常价"}) == 2
    assert header_row([["a", "b"], ["c", "d"]], lambda h: False) == 0
    assert section_row(["【猫粮狗粮】", "", ""]) and not section_row(["能开发票吗", "", ""])
    assert split_specs("800ml/1000ml") == ["800ml", "1000ml"]
    assert split_specs("S、M、L") == ["S", "M", "L"]


def test_a_cell_in_the_last_column_cannot_blow_up_the_parse(tmp_path: Path) -> None:
    import io
    import tracemalloc

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "常见问题"
    sheet.append(["问题", "答案"])
    sheet.append(["能开发票吗", "可以的亲"])
    for row in range(3, 8003):  # 8,000 rows with one cell each in column XFD
        sheet.cell(row=row, column=16384, value="x")
    data = io.BytesIO()
    book.save(data)
    tracemalloc.start()
    try:
        (entry,) = load_bytes(SHOP, "bomb.xlsx", data.getvalue())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(entry, FAQ) and entry.answer == "可以的亲"
    assert peak < 50 * 2**20, peak  # was ~1 GB: every row padded to 16,384 cells


def test_a_sheet_too_long_is_refused_naming_the_file(tmp_path: Path) -> None:
    from kb.files.importers import MAX_ROWS

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "常见问题"
    sheet.append(["问题", "答案"])
    for n in range(MAX_ROWS + 5):
        sheet.append([f"问题{n}", "答案"])
    path = tmp_path / "long.xlsx"
    book.save(path)
    with pytest.raises(KBImportError) as caught:
        load_files(SHOP, [path])
    (error,) = caught.value.errors
    assert error.file == "long.xlsx:常见问题" and "split the file" in error.message

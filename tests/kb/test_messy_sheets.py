"""A trainer's workbook as kept, not as our template: cells merged down, note rows between the
rows, several rules under one category, remarks in a price cell. Each failed a whole import
before (one shop's workbook had all of them)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from workbooks import write_workbook

from kb.errors import KBImportError
from kb.files.importers import load_bytes, load_files
from kb.files.merged_cells import filled_down
from kb.files.sheets import product_cells, section_row
from kb.types import FAQ, Policy, Product, Promotion

SHOP = "messy-shop"


def workbook(
    tmp_path: Path, sheets: dict[str, list[list[Any]]], merges: dict[str, list[str]]
) -> Path:
    return write_workbook(tmp_path / "kb.xlsx", sheets, merges)


POLICIES = [
    ["发货&售后规则（冬季版）", None, None],
    ["类别", "具体规则", "备注"],
    ["退款", "退款原路返回，1-3个工作日到账。", None],
    [None, "仅退款需上传凭证。", None],
    [None, "退货运费险按保险公司规则理赔。", None],
    ["发货", "48小时内发货，默认中通。", "可加钱发顺丰"],
    ["注：", "拿不准的问组长，别乱承诺", None],
]


def test_a_category_merged_down_is_each_rows_and_each_row_a_rule(tmp_path: Path) -> None:
    path = workbook(tmp_path, {"售后规则": POLICIES}, {"售后规则": ["A1:C1", "A3:A5"]})
    policies = [e for e in load_files(SHOP, [path]) if isinstance(e, Policy)]
    refunds = [p for p in policies if p.title == "退款"]
    assert sorted(p.content for p in refunds) == sorted(
        ["退款原路返回，1-3个工作日到账。", "仅退款需上传凭证。", "退货运费险按保险公司规则理赔。"]
    )
    assert len({p.id for p in refunds}) == 3
    assert [p.title for p in policies].count("发货") == 1  # and the 注： row is no policy
    assert len(policies) == 4


def test_a_row_written_twice_under_one_category_is_still_a_duplicate(tmp_path: Path) -> None:
    rows = [["类别", "具体规则"], ["退款", "1-3天到账"], ["退款", "1-3天到账"]]
    with pytest.raises(KBImportError) as caught:
        load_files(SHOP, [workbook(tmp_path, {"政策": rows}, {})])
    (error,) = caught.value.errors
    assert error.row == 3 and "duplicate" in error.message


def test_a_title_merged_across_a_row_stays_a_section(tmp_path: Path) -> None:
    rows = [
        ["货号", "品名", "售价", "库存"],
        ["【毛衣】", None, None, None],
        ["MY01", "羊毛开衫", "199", "有货"],
        ["MY02", "高领毛衣", "169", "有货"],
        ["洗涤起球这些统一看常见问题表；尺码拿不准的让客人报身高体重，再问组长", None, None, None],
    ]
    path = workbook(tmp_path, {"商品": rows}, {"商品": ["A2:D2", "A5:D5"]})
    products = load_files(SHOP, [path])
    assert sorted(p.id for p in products if isinstance(p, Product)) == ["MY01", "MY02"]


def test_divider_and_note_rows_between_the_questions_are_skipped(tmp_path: Path) -> None:
    rows = [
        ["序号", "客户问题", "参考回复"],
        ["1", "会起球吗", "亲，羊毛混纺轻微起球是正常的哦"],
        [None, "——以下12月新增——", None],
        ["2", "能机洗吗", "建议手洗或洗衣袋轻柔模式"],
    ]
    faqs = load_files(SHOP, [workbook(tmp_path, {"常见问题": rows}, {})])
    assert [f.question for f in faqs if isinstance(f, FAQ)] == ["会起球吗", "能机洗吗"]


def test_headers_and_sheet_names_trainers_use() -> None:
    rows = [["序号", "买家问题", "回复参考"], ["1", "支持快充吗", "支持PD快充"]]
    book = openpyxl.Workbook()
    faq_sheet = book.active
    faq_sheet.title = "常见问题Q&A"
    for row in rows:
        faq_sheet.append(row)
    rules = book.create_sheet("售后&发货规则")  # its 规则 column: a policy's, not a deal's
    for row in (["项目", "规则"], ["发货", "48小时内发货"]):
        rules.append(row)
    data = io.BytesIO()
    book.save(data)
    loaded = load_bytes(SHOP, "kb.xlsx", data.getvalue())
    assert {type(e) for e in loaded} == {FAQ, Policy}


def test_a_price_cell_with_a_remark_or_a_price_per_label() -> None:
    remarked = product_cells({"price": "39.9（百亿补贴链接29.9）"}, {})
    assert remarked["price"] == "39.9" and "百亿补贴链接29.9" in remarked["usage_notes"]
    labelled = product_cells({"price": "高清12.9 / 防窥17.9", "variants": ""}, {})
    assert labelled["variants"] == "高清=12.9|防窥=17.9" and labelled["price"] == "12.9"
    assert not product_cells({"price": "12.9"}, {}).get("usage_notes")


def test_what_is_a_section_or_note_row() -> None:
    assert section_row(["", "——以下12月新增——", ""])
    assert section_row(["注：", "以后台为准"])
    assert section_row(["说明：价格以详情页为准"])
    assert not section_row(["能开发票吗", "", ""])  # a question missing its answer: an error
    assert not section_row(["MY01", "开衫", "199"])
    assert not section_row(["这件毛衣洗了会不会缩水啊，我想买给我妈穿"])  # a question, not a note


def test_merges_read_from_the_sheets_xml(tmp_path: Path) -> None:
    rows = [["类别", "内容"], ["退款", "a"], [None, "b"]]
    path = workbook(tmp_path, {"政策": rows}, {"政策": ["A2:A3"]})
    with zipfile.ZipFile(path) as archive:
        filled = list(filled_down(archive, "xl/worksheets/sheet1.xml", [r[:] for r in _text(rows)]))
        assert filled[2][0] == "退款"
        assert list(filled_down(archive, "no/such.xml", [["x"]])) == [["x"]]


def _text(rows: list[list[Any]]) -> list[list[str]]:
    return [["" if c is None else str(c) for c in row] for row in rows]


SPEC_ROWS = [
    ["货号", "品名", "规格", "售价", "库存"],
    ["PS-01", "幼猫粮", "1.5kg", "59", "有货"],
    [None, None, "4kg", "139", "有货"],
    [None, None, "10kg", "299", "缺货"],
    ["PS-02", "成猫粮", "2kg", "69", "有货"],
]


@pytest.mark.parametrize("merged", [["A2:A4", "B2:B4"], []], ids=["merged", "left-blank"])
def test_a_product_on_several_spec_rows_is_one_product(tmp_path: Path, merged: list[str]) -> None:
    path = workbook(tmp_path, {"商品": SPEC_ROWS}, {"商品": merged})
    products = {e.id: e for e in load_files(SHOP, [path]) if isinstance(e, Product)}
    kitten = products["PS-01"]
    assert [(v.name, str(v.price)) for v in kitten.variants] == [
        ("1.5kg", "59"), ("4kg", "139"), ("10kg", "299")
    ]  # fmt: skip
    assert str(kitten.price) == "59" and kitten.in_stock and "10kg缺货" in kitten.usage_notes
    assert set(products) == {"PS-01", "PS-02"}


def test_a_product_row_written_twice_or_missing_its_id_is_still_an_error(tmp_path: Path) -> None:
    twice = [["货号", "品名", "规格", "售价"], ["A1", "杯子", "大", "9"], ["A1", "杯子", "大", "9"]]
    with pytest.raises(KBImportError) as caught:
        load_files(SHOP, [workbook(tmp_path, {"商品": twice}, {})])
    assert "duplicate" in caught.value.errors[0].message
    no_id = [["货号", "品名", "规格", "售价"], ["A1", "杯子", "大", "9"], [None, "碗", "小", "5"]]
    with pytest.raises(KBImportError) as caught:
        load_files(SHOP, [workbook(tmp_path, {"商品": no_id}, {})])
    assert caught.value.errors[0].row == 3
    no_spec = [["货号", "品名", "规格", "售价"], ["A1", "杯子", None, "9"], [None, None, "小", "5"]]
    with pytest.raises(KBImportError) as caught:  # no spec above to be one more of
        load_files(SHOP, [workbook(tmp_path, {"商品": no_spec}, {})])
    assert caught.value.errors[0].row == 3


def test_a_header_broken_over_two_lines_a_ticked_stock_and_a_date_cell_as_a_number(
    tmp_path: Path,
) -> None:
    sheets = {
        "商品": [
            ["货号", "商品\n名称", "售价", "库存"],
            ["A1", "杯子", "9", "√"],
            ["A2", "碗", "5", "×"],
        ],
        "活动": [["活动名称", "优惠内容", "开始", "结束"], ["双12", "满99减10", 46357, 46368]],
    }
    loaded = load_files(SHOP, [workbook(tmp_path, sheets, {})])
    stock = {e.title: e.in_stock for e in loaded if isinstance(e, Product)}
    assert stock == {"杯子": True, "碗": False}  # × was read as in stock
    (deal,) = [e for e in loaded if isinstance(e, Promotion)]
    assert (deal.starts, deal.ends) == (date(2026, 12, 1), date(2026, 12, 12))

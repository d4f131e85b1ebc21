"""More of a trainer's workbook as written: a size chart sheet (尺码表) in no kind's headers, a
title header with a remark (商品标题（抖店上架名）), one cell for the specs and their prices
(规格/颜色/价格), specs with a comma inside their brackets, a price in words on a spec row
(团购询价), and each spec's own stock remark. Each of these failed a new shop's import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from workbooks import write_workbook

from kb.files.importers import load_files
from kb.files.sheets import split_specs
from kb.types import FAQ, Product

SHOP = "outdoor-shop"

PRODUCTS = [
    ["商品资料（客服用）", None, None, None],
    ["商品编码", "商品标题（抖店上架名）", "规格/颜色/价格", "库存/备注"],
    ["JK01", "三合一冲锋衣 男女款", "男款：黑色/墨绿 M-3XL\n女款：黑色/樱粉 S-XL\n¥599（男女同价）", "有货"],
    ["DN02", "轻薄羽绒服", "立领款 ¥299｜连帽款 ¥329\n男 M-3XL（黑/灰）；女 S-XL（黑/奶白）", "有货"],
    ["TK01", "碳纤维登山杖", "单支 ¥139\n一对 ¥259（双12一对¥219）", "有货"],
    ["SK01", "羊毛徒步袜", "M码(35-39) / L码(40-45)\n¥49/双；3双装¥129", "有货"],
]  # fmt: skip
SIZES = [
    ["尺码表（客户问码先看这里）", None, None, None, None],
    ["品类", "尺码", "身高", "体重", "备注"],
    ["JK01 男款（DN02同）", "M", "165-170cm", "110-130斤", None],
    [None, "L", "170-175cm", "130-145斤", None],
    ["JK01 女款", "S", "155-160", "85-100斤", "偏小"],
    [None, "M", "160-165", "100-110斤", None],
    [None, None, None, None, None],
    ["鞋码", "脚长(mm)", None, None, None],
    ["35码", "225", None, None, None],
    ["36码", "230", None, None, None],
]  # fmt: skip


def load(tmp_path: Path, sheets: dict[str, list[list[Any]]]) -> list[Any]:
    return load_files(SHOP, [write_workbook(tmp_path / "kb.xlsx", sheets)])


def test_specs_and_prices_in_one_cell(tmp_path: Path) -> None:
    products = {e.id: e for e in load(tmp_path, {"商品资料": PRODUCTS}) if isinstance(e, Product)}
    jacket = products["JK01"]
    assert jacket.title == "三合一冲锋衣 男女款" and jacket.price == 599 and not jacket.variants
    assert any("男款：黑色/墨绿 M-3XL" in p for p in jacket.selling_points)  # sizes kept
    down = products["DN02"]
    assert [(v.name, v.price) for v in down.variants] == [("立领款", 299), ("连帽款", 329)]
    assert down.price == 299 and any("女 S-XL（黑/奶白）" in p for p in down.selling_points)
    poles = products["TK01"]
    assert [v.name for v in poles.variants] == ["单支", "一对"]
    assert any("双12一对¥219" in p for p in poles.selling_points)  # the deal beside a price
    socks = products["SK01"]  # "¥49/双" names no spec: the lowest price is the product's
    assert socks.price == 49 and any("3双装¥129" in p for p in socks.selling_points)


def test_a_size_chart_sheet_is_one_faq_per_chart(tmp_path: Path) -> None:
    faqs = [
        e for e in load(tmp_path, {"商品资料": PRODUCTS, "尺码表": SIZES}) if isinstance(e, FAQ)
    ]
    by_question = {f.question: f.answer for f in faqs}
    assert by_question["JK01 男款（DN02同） 尺码表"] == (
        "M：身高165-170cm，体重110-130斤；L：身高170-175cm，体重130-145斤"
    )
    # a bare height gets its length unit; a remark stays beside its size
    assert by_question["JK01 女款 尺码表"].startswith("S：身高155-160cm，体重85-100斤（偏小）")
    assert by_question["鞋码、脚长(mm) 尺码表"] == "35码：脚长225mm；36码：脚长230mm"


@pytest.mark.parametrize(
    ("cell", "specs"),
    [
        ("标准款（龙井50g+正山小种50g，共4罐）", ["标准款（龙井50g+正山小种50g，共4罐）"]),
        ("一提（7饼，共2499g）", ["一提（7饼，共2499g）"]),
        ("2019年 357克/饼", ["2019年 357克/饼"]),
        ("奶白/曜石黑、灰", ["奶白", "曜石黑", "灰"]),
    ],
)
def test_what_brackets_hold_is_one_specs_detail(cell: str, specs: list[str]) -> None:
    assert split_specs(cell) == specs


def test_spec_rows_keep_a_price_in_words_and_their_stock_remarks(tmp_path: Path) -> None:
    rows = [
        ["商品编码", "商品名称", "规格", "售价", "库存"],
        ["TG1", "西湖龙井", "50g罐装", "168", "有货"],
        [None, None, "250g纸包简装", "698", "缺货（可预订，预计12月10日到货）"],
        ["TG2", "四季茶礼礼盒", "标准款（龙井50g+白牡丹50g，共2罐）", "398", "有货"],
        [None, None, "企业定制款（烫金logo）", "团购询价", "50盒起订"],
        ["TG3", "普洱熟茶饼", "2019年 357克/饼", "198", "充足"],
        [None, None, "2016年 357克/饼", "368", "300+"],
    ]
    products = {e.id: e for e in load(tmp_path, {"商品资料": rows}) if isinstance(e, Product)}
    tea = products["TG1"]
    assert tea.in_stock and "250g纸包简装缺货（可预订，预计12月10日到货）" in tea.usage_notes
    box = products["TG2"]
    assert [v.name for v in box.variants][1] == "企业定制款（烫金logo）（团购询价）"
    assert "50盒起订" in box.usage_notes
    cake = products["TG3"]  # a plain 充足 or a count is no remark
    assert [v.name for v in cake.variants] == ["2019年 357克/饼", "2016年 357克/饼"]
    assert "库存" not in cake.usage_notes


def test_a_trainers_mark_on_a_title_is_not_the_name(tmp_path: Path) -> None:
    rows = [["货号", "品名", "日常价"], ["S04", "烟酰胺亮肤精华 *", "199"], ["S05", "★面膜", "59"]]
    titles = [e.title for e in load(tmp_path, {"商品": rows}) if isinstance(e, Product)]
    assert titles == ["烟酰胺亮肤精华", "★面膜"]  # a mark after the name, not one leading it

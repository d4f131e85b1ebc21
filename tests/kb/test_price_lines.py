"""Three more trainers' workbooks (car accessories, stationery, jewellery) as they keep them: a
spec cell and a price cell written line by line with extras under a ——加购—— divider, one cell
of weights each at two pack prices, an engraving "+15元" beside the price, a lookup sheet of car
models, a ring-size chart, a promotion's three rules under one merged name, and an offer that
runs 长期. Each stopped a whole import before."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from workbooks import write_workbook

from kb.errors import KBImportError
from kb.files.importers import load_files
from kb.files.price_lines import priced_lines
from kb.types import FAQ, Product, Promotion

SHOP = "price-lines"
PRODUCTS = [
    ["商品资料（客服必背）", None, None, None, None],
    ["商品编码", "商品标题", "规格/款式", "价格", "卖点"],
    [
        "CA-XC05", "行车记录仪 前后双录",
        "单前录\n前后双录\n——加购——\n64G内存卡 / 128G内存卡\n降压线（停车监控用）",
        "199\n299\n\n35元 / 59元\n39元", "星光夜视",
    ],
    ["CA-JD02", "专车专用脚垫", "TPE单层\n皮革双层\n加购后备箱垫", "139元\n199元\n+59", "定制"],
    ["CA-CD07", "PD快充车充", "双口(C+A) 黑/银\n双口+1米C-C线", "39.9\n49.9", "12V/24V通用"],
    ["CA-ZD11", "记忆棉头枕腰靠", "头枕\n腰靠\n颜色：黑/米", "39\n49", "慢回弹"],
    ["CA-QJ13", "车载吸尘器", "无线款\n有线款", "129（双12直降109）\n69", "8000Pa"],
]  # fmt: skip
# one column holding the specs and their prices, as a stationery trainer keeps it
PAPER = [
    ["商品编码", "商品标题", "规格/款式/价格", "重点信息"],
    ["QJ-OF01", "A4复印纸", "70g：单包500张 ¥24.9，整箱5包 ¥115\n80g：单包 29.9块，整箱 ¥139", "不卡纸"],
    ["QJ-FP02", "金属商务钢笔", "颜色：磨砂黑/香槟金\n¥89\n刻字 +15元", "铜杆"],
]  # fmt: skip
MAT_PATTERNS = [
    ["CA-JD02 脚垫已有版型（常问的，不全）", None, None, None, None],
    ["品牌", "车型", "年份", "有无版型", "备注"],
    ["大众", "朗逸（含朗逸Plus）", "2018款至今", "有", "朗逸纯电没有"],
    ["问界", "M7", None, None, "暂无（开发中）"],
]
RING_SIZES = [
    ["戒指尺码对照（港码）", None, None, None],
    ["号数", "手指周长(mm)", "戒指内径(mm)", "备注"],
    ["11号", 51, 16.2, "女生常见"],
    ["12号", 52, 16.6, None],
]
PROMOTIONS = [
    ["活动名称", "开始", "结束", "活动内容", "适用商品"],
    ["双11狂欢", "2026-11-01", "2026-11-11", "全店满199减30", "全店"],
    ["双12年终大促", "12.1 0点", "12.12 23:59", "全店满99减10", "全店"],
    [None, None, None, "前后双录记录仪送64G内存卡1张", "CA-XC05"],
    [None, None, None, "无线吸尘器直降：129→109", "CA-QJ13"],
    ["关注店铺券", "长期", None, "关注店铺领3元券，满30可用", "全店"],
]
MERGES = {"促销": ["A3:A5", "B3:B5", "C3:C5"]}


def load(tmp_path: Path) -> list[Any]:
    sheets: dict[str, list[list[Any]]] = {
        "商品资料": PRODUCTS, "文具商品": PAPER, "脚垫版型表": MAT_PATTERNS, "戒指尺码表": RING_SIZES,
        "促销": PROMOTIONS,
    }  # fmt: skip
    return load_files(SHOP, [write_workbook(tmp_path / "kb.xlsx", sheets, MERGES)])


def products(entries: list[Any]) -> dict[str, Product]:
    return {e.id: e for e in entries if isinstance(e, Product)}


def prices(product: Product) -> dict[str, Decimal | None]:
    return {v.name: v.price for v in product.variants}


def test_each_price_line_prices_the_spec_on_its_line(tmp_path: Path) -> None:
    found = products(load(tmp_path))
    assert prices(found["CA-CD07"]) == {
        "双口(C+A) 黑": Decimal("39.9"), "双口(C+A) 银": Decimal("39.9"),
        "双口+1米C-C线": Decimal("49.9"),
    }  # fmt: skip
    vacuum = found["CA-QJ13"]
    assert prices(vacuum) == {"无线款": Decimal("129"), "有线款": Decimal("69")}
    assert any("双12直降109" in point for point in vacuum.selling_points)


def test_extras_are_notes_not_specs_and_not_the_products_price(tmp_path: Path) -> None:
    found = products(load(tmp_path))
    recorder, mat = found["CA-XC05"], found["CA-JD02"]
    assert prices(recorder) == {"单前录": Decimal("199"), "前后双录": Decimal("299")}
    assert recorder.price == Decimal("199")  # not the ¥35 card's
    assert any("降压线（停车监控用）：39元" in point for point in recorder.selling_points)
    assert prices(mat) == {"TPE单层": Decimal("139"), "皮革双层": Decimal("199")}
    assert any("加购后备箱垫：59" in point for point in mat.selling_points)


def test_a_line_describing_the_specs_is_a_note(tmp_path: Path) -> None:
    pillow = products(load(tmp_path))["CA-ZD11"]
    assert prices(pillow) == {"头枕": Decimal("39"), "腰靠": Decimal("49")}
    assert any("颜色：黑/米" in point for point in pillow.selling_points)


def test_sizes_at_fewer_prices_are_not_guessed_at() -> None:
    # "S/M/L" at "59/69": which size costs what is not written (the import names the cell)
    assert priced_lines("S\nM\nL", "59\n69") is None
    assert priced_lines("单前录\n前后双录", "199\n299") == (
        [("单前录", "199"), ("前后双录", "299")],
        [],
    )
    assert priced_lines("单支\n10支装", "3元/支\n25元") == ([("单支", "3"), ("10支装", "25")], [])


def test_one_cell_of_weights_each_at_pack_prices_and_an_extra_beside(tmp_path: Path) -> None:
    found = products(load(tmp_path))
    assert prices(found["QJ-OF01"]) == {
        "70g 单包500张": Decimal("24.9"), "70g 整箱5包": Decimal("115"),
        "80g 单包": Decimal("29.9"), "80g 整箱": Decimal("139"),
    }  # fmt: skip
    pen = found["QJ-FP02"]
    assert pen.price == Decimal("89")  # the engraving's +15 is an extra, not the pen's price
    assert any("刻字 +15元" in point for point in pen.selling_points)


def test_a_lookup_sheet_is_one_faq_per_row(tmp_path: Path) -> None:
    faqs = {e.question: e.answer for e in load(tmp_path) if isinstance(e, FAQ)}
    assert faqs["脚垫版型表 大众 朗逸（含朗逸Plus） 2018款至今"] == (
        "大众 朗逸（含朗逸Plus） 2018款至今，有无版型：有（朗逸纯电没有）"
    )
    assert faqs["脚垫版型表 问界 M7"] == "问界 M7：暂无（开发中）"


def test_a_ring_size_chart_is_asked_by_its_sheets_name(tmp_path: Path) -> None:
    faqs = {e.question: e.answer for e in load(tmp_path) if isinstance(e, FAQ)}
    assert faqs["戒指尺码表"] == (
        "11号：周长51mm，内径16.2mm（女生常见）；12号：周长52mm，内径16.6mm"
    )


def test_rules_under_one_merged_name_and_a_standing_offer(tmp_path: Path) -> None:
    promos = [e for e in load(tmp_path) if isinstance(e, Promotion)]
    double12 = [p for p in promos if p.title == "双12年终大促"]
    assert {p.product_ids for p in double12} == {(), ("CA-XC05",), ("CA-QJ13",)}
    assert all(str(p.starts) == "2026-12-01" for p in double12)
    standing = next(p for p in promos if p.title == "关注店铺券")
    assert standing.starts is None and standing.ends is None


def test_a_sheet_naming_entry_fields_is_no_lookup_table(tmp_path: Path) -> None:
    # 商品编码 | 商品标题 under a sheet named 文具: products whose kind the sheet does not say,
    # reported as such rather than read as a page of questions
    path = write_workbook(tmp_path / "kb.xlsx", {"文具": PAPER}, {})
    with pytest.raises(KBImportError, match="cannot tell what these rows are"):
        load_files(SHOP, [path])

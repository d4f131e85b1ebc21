"""Three more trainers' workbooks (shoes, bedding, computer peripherals) as they keep them: a
product's id merged down over rows of specs each holding several colours, a colour list with
the style after it, prices per option in one cell, a remark alone in brackets on its row, a
scope that explains itself after a 。, a start time beside the date. Each stopped a whole
import before."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from workbooks import write_workbook

from kb.files.importers import load_files
from kb.types import Product, Promotion

SHOP = "spec-rows"
HEADER = ["商品编码", "商品名称", "颜色/规格", "价格(元)", "卖点", "库存&备注"]
PRODUCTS = [
    ["商品资料表（2026冬季版）", None, None, None, None, None],
    HEADER,
    [
        "KB-101",
        "男款飞织跑步鞋",
        "黑白 / 全黑",
        59.9,
        "飞织网布鞋面",
        "灰蓝44码缺货（补货时间待定）",
    ],
    [None, None, "灰蓝", 62.9, None, None],
    ["KB-107", "一脚蹬懒人帆布鞋", "黑色/棕色  单鞋款", 55.9, "帆布鞋面", None],
    [None, None, "黑色/棕色  加绒款", 65.9, None, None],
    ["KA-K87", "三模机械键盘", "有线版 黑/白 红轴/茶轴/青轴", 219, "87键", None],
    [None, None, "三模版 黑/白 红轴/茶轴/青轴", 299, None, None],
    ["HT-602", "羽丝绒枕头", "低枕（约8cm）", "单只49 / 一对89", "可机洗", None],
    [None, None, "高枕（约15cm）", "单只59 / 一对109", None, None],
    [None, None, None, None, None, None],
    ["（待补：男款高帮工装鞋 样品还没到，先别上）", None, None, None, None, None],
]
MERGES = ["A1:F1", "A3:A4", "B3:B4", "E3:E4", "F3:F4", "A5:A6", "B5:B6", "A7:A8", "B7:B8"]
MERGES += ["A9:A10", "B9:B10"]
PROMOTIONS = [
    ["活动", "时间", "内容", "适用范围"],
    ["双11狂欢", "2026.10.24 20:00 - 11.11 23:59", "店铺券满300减40", "全店"],
    [
        "双12年终狂欢", "2026-12-01 00:00 ~ 2026-12-12 23:59", "满99减10",
        "全店（含鞋垫）。加绒款 = KB-107加绒款",
    ],
]  # fmt: skip


def load(tmp_path: Path) -> tuple[dict[str, Product], list[Promotion]]:
    sheets: dict[str, list[list[Any]]] = {"商品资料": PRODUCTS, "活动": PROMOTIONS}
    path = write_workbook(tmp_path / "kb.xlsx", sheets, {"商品资料": MERGES})
    entries = load_files(SHOP, [path])
    products = {e.id: e for e in entries if isinstance(e, Product)}
    return products, [e for e in entries if isinstance(e, Promotion)]


def prices(product: Product) -> dict[str, Decimal | None]:
    return {v.name: v.price for v in product.variants}


def test_spec_rows_under_a_merged_id_are_one_product(tmp_path: Path) -> None:
    products, _ = load(tmp_path)
    assert set(products) == {"KB-101", "KB-107", "KA-K87", "HT-602"}  # the remark is no product
    assert prices(products["KB-101"]) == {
        "黑白": Decimal("59.9"), "全黑": Decimal("59.9"), "灰蓝": Decimal("62.9"),
    }  # fmt: skip
    # the stock cell merged over both rows is said once, not once per row
    assert products["KB-101"].usage_notes == "库存：灰蓝44码缺货（补货时间待定）"


def test_a_colour_list_with_the_style_after_it_is_a_spec_per_colour(tmp_path: Path) -> None:
    products, _ = load(tmp_path)
    assert prices(products["KB-107"]) == {
        "黑色 单鞋款": Decimal("55.9"), "棕色 单鞋款": Decimal("55.9"),
        "黑色 加绒款": Decimal("65.9"), "棕色 加绒款": Decimal("65.9"),
    }  # fmt: skip
    # two choices in one cell stay one spec, priced
    assert prices(products["KA-K87"]) == {
        "有线版 黑/白 红轴/茶轴/青轴": Decimal(219), "三模版 黑/白 红轴/茶轴/青轴": Decimal(299),
    }  # fmt: skip


def test_prices_per_option_in_one_cell_are_each_specs(tmp_path: Path) -> None:
    products, _ = load(tmp_path)
    assert prices(products["HT-602"]) == {
        "低枕（约8cm） 单只": Decimal(49), "低枕（约8cm） 一对": Decimal(89),
        "高枕（约15cm） 单只": Decimal(59), "高枕（约15cm） 一对": Decimal(109),
    }  # fmt: skip


def test_a_scope_and_a_period_read_as_a_person_reads_them(tmp_path: Path) -> None:
    _, promotions = load(tmp_path)
    by_title = {p.title: p for p in promotions}
    eleven = by_title["双11狂欢"]
    assert (eleven.starts, eleven.ends) == (
        eleven.starts.replace(month=10, day=24),
        eleven.starts.replace(month=11, day=11),
    )
    assert by_title["双12年终狂欢"].product_ids == ()  # 全店: what follows the 。 explains

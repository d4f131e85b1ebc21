"""A trainer's workbook in the trainer's own words: one 时间 cell for a promotion's dates, a
scope written with remarks or with spec names, headers nobody listed (顾客一般怎么问, 具体说明,
哪些商品), a per-bag size, and a note merged across its row. Each of these failed a new shop's
import, or imported a wrong fact (an expired promotion with no end date, a deal read as applying
to nothing)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from workbooks import write_workbook

from kb.files.importers import load_files, read_files
from kb.files.promotion_cells import split_period
from kb.files.sheets import split_specs
from kb.types import FAQ, Policy, Product, Promotion

SHOP = "worded-shop"

PRODUCTS = [
    ["商品编码", "商品名称", "规格/款式", "价格"],
    ["G1", "“松果满堂”坚果礼盒", "标准款（10罐）", "199"],
    [None, None, "企业定制款", "299"],
    ["G2", "“小福袋”零食礼盒", "坚果款", "59"],
    ["G3", "每日坚果", "25g/袋", "29.9"],
    ["G4", "混合鲜果礼盒", "B款：车厘子1斤+苹果", "99"],
    ["G5", "智利车厘子", "2斤", "109"],
]


def load(tmp_path: Path, sheets: dict[str, list[list[Any]]], merges: Any = None) -> list[Any]:
    return load_files(SHOP, [write_workbook(tmp_path / "kb.xlsx", sheets, merges)])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026.10.1-10.7", ("2026.10.1", "10.7")),
        ("11月1号-11月11号", ("11月1号", "11月11号")),
        ("12/1 ~ 12/12 23:59", ("12/1", "12/12")),
        ("11月27号-30号", ("11月27号", "11月30日")),
        ("12月5号到月底", ("12月5号", "12月31日")),
        ("12.1起", ("12.1", "")),
        ("12月12日", ("12月12日", "12月12日")),
        ("长期", ("", "")),
        ("2026.12.1 0:00-2026.12.12 23:59", ("2026.12.1", "2026.12.12")),  # no "00-20"
    ],
)
def test_one_period_cell_read_as_its_start_and_end(cell: str, expected: tuple[str, str]) -> None:
    assert tuple(part.strip() for part in split_period(cell)) == expected


def test_promotions_with_a_period_column_remarks_and_spec_names(tmp_path: Path) -> None:
    deals = [
        ["店铺活动记录（过期的也留着）", None, None, None],
        ["活动", "时间", "内容", "哪些商品"],
        ["国庆焕新", "2026.10.1-10.7", "满88减8", "全店"],
        [
            "双12",
            "12/1 ~ 12/12 23:59",
            "全店满99减10、满199减25；\n买礼盒送小勺1把",
            "全店（赠品只限礼盒）",
        ],
        ["礼盒第二件半价", "12月5号到月底", "第二件半价", "松果满堂标准款、小福袋（坚果款）"],
        ["车厘子早鸟", "11月27号-30号", "到手109", "车厘子 2斤"],
        ["元旦活动还没定，等运营通知，先别跟顾客说", None, None, None],
    ]
    sheets = {"商品": PRODUCTS, "活动": deals}
    loaded = load(tmp_path, sheets, {"商品": ["A2:A3", "B2:B3"], "活动": ["A1:D1", "A7:D7"]})
    promos = {p.title: p for p in loaded if isinstance(p, Promotion)}
    assert len(promos) == 5  # the note merged across its row is not a promotion
    assert (promos["国庆焕新"].starts, promos["国庆焕新"].ends) == (
        date(2026, 10, 1),
        date(2026, 10, 7),
    )  # fmt: skip  (an expired deal with no end date was a current one)
    tier = promos["双12（满99减10）"]
    assert tier.ends == date(2026, 12, 12) and tier.product_ids == ()  # the whole shop's
    assert "买礼盒送小勺1把" in tier.description  # what the tiers leave of the rule
    assert promos["礼盒第二件半价"].product_ids == ("G1", "G2")  # named by title and spec
    assert promos["礼盒第二件半价"].ends == date(2026, 12, 31)
    assert promos["车厘子早鸟"].product_ids == ("G5",)  # a title first: not the mixed box
    assert promos["车厘子早鸟"].ends == date(2026, 11, 30)


def test_headers_in_the_trainers_own_words(tmp_path: Path) -> None:
    sheets = {
        "常见问题Q&A": [
            ["常见问题汇总（遇到新问题往下加）", None, None],
            ["序号", "顾客一般怎么问", "怎么回（参考，可以自己改口气）"],
            ["1", "电磁炉能用吗", "可以的亲～复合底，燃气灶电磁炉都能用"],
        ],
        "发货&售后": [
            ["类别", "规则", "具体说明", "注意"],
            ["发货", "发货时间", "16点前付款当天发", "催发货找仓库"],
            [None, "快递", "默认中通", None],
        ],
    }
    loaded = load(tmp_path, sheets, {"发货&售后": ["A2:A3"]})
    (faq,) = [e for e in loaded if isinstance(e, FAQ)]
    assert (faq.question, faq.answer) == ("电磁炉能用吗", "可以的亲～复合底，燃气灶电磁炉都能用")
    policies = {p.title: p for p in loaded if isinstance(p, Policy)}
    assert policies["发货时间"].content == "16点前付款当天发"  # 规则 names it, 具体说明 says it
    assert policies["快递"].topic == "发货" and "仓库" not in policies["快递"].content


def test_a_size_per_bag_is_one_spec(tmp_path: Path) -> None:
    assert split_specs("120g/袋") == ["120g/袋"]
    assert split_specs("250g/袋、500g/罐") == ["250g/袋", "500g/罐"]
    assert split_specs("奶白/曜石黑") == ["奶白", "曜石黑"]
    products = {p.id: p for p in load(tmp_path, {"商品": PRODUCTS}) if isinstance(p, Product)}
    assert [v.name for v in products["G3"].variants] == ["25g/袋"]


def test_an_unanswered_question_is_reported_by_the_import(tmp_path: Path) -> None:
    rows = [["顾客问", "怎么回"], ["多少卡路里", None], ["包邮吗", "包邮"]]
    loaded = read_files(SHOP, [write_workbook(tmp_path / "kb.xlsx", {"常见问题": rows})])
    assert [str(row) for row in loaded.left_out] == [
        "kb.xlsx:常见问题, row 2, column '怎么回': no answer yet: left out until the sheet "
        "gives it one"
    ]


def test_a_period_read_from_one_cell_exports_as_its_start_and_end(tmp_path: Path) -> None:
    from kb.files.exporters import export_entries

    deals = [
        ["活动", "时间", "内容"],
        ["双12", "12/1 ~ 12/12", "满99减10"],
        ["国庆", "2026.10.1-10.7", "满88减8"],
    ]
    loaded = load(tmp_path, {"活动": deals})
    out = export_entries(loaded, tmp_path / "out.xlsx")
    again = load_files(SHOP, [tmp_path / "out.xlsx"])
    assert out == 2 and again == loaded
    headers = next(
        openpyxl.load_workbook(tmp_path / "out.xlsx")["活动"].iter_rows(values_only=True)
    )
    assert "开始时间" in headers and "活动时间" not in headers

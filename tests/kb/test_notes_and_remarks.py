"""Three more trainers' workbooks (personal care, toys, plants): a spec cell whose bracketed head
belongs to every option after it, a promotion whose dates are a dash ("—": no dates), a spec row
priced "¥55（缺货）", and two note columns (注意事项 and 备注) on one product row. The dash
stopped a whole import; the others lost what the sheet said."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from workbooks import write_workbook

from kb.files.importers import load_files
from kb.files.sheets import split_specs
from kb.types import Product, Promotion

SHOP = "notes"
PRODUCTS = [
    ["沐光个护 · 商品资料", None, None, None, None, None],
    ["商品编码", "商品名称", "规格/款式", "日常价", "注意事项（客服必看）", "备注"],
    ["PC07", "电动牙刷替换刷头", "清洁型 4支装", "¥49", "不适配K1儿童款", "美白型预计12月15日到货"],
    [None, None, "美白型 4支装", "¥55（缺货）", None, None],
    ["PZ-401", "儿童木质拼图", "单盒（4合1：9/12/16/20片）动物/交通/恐龙", 19.9, None, None],
]
PROMOTIONS = [
    ["活动名称", "开始", "结束", "活动内容"],
    ["双12年终园艺季", "2026-12-01", "2026-12-12", "全店满99减10"],
    ["关注店铺券（长期）", "—", "—", "关注店铺领5元券，满39可用"],
]


def load(tmp_path: Path) -> list[Any]:
    sheets: dict[str, list[list[Any]]] = {"商品资料": PRODUCTS, "活动日历": PROMOTIONS}
    return load_files(SHOP, [write_workbook(tmp_path / "kb.xlsx", sheets)])


def test_a_bracketed_head_belongs_to_every_option_after_it() -> None:
    assert split_specs("单盒（4合1：9/12/16/20片）动物/交通/恐龙") == [
        "单盒（4合1：9/12/16/20片）动物", "单盒（4合1：9/12/16/20片）交通",
        "单盒（4合1：9/12/16/20片）恐龙",
    ]  # fmt: skip
    # an option with a remark of its own, or a bracket closing the cell, keeps its own words
    assert split_specs("礼盒装（送袋）/简装") == ["礼盒装（送袋）", "简装"]
    assert split_specs("500ml（樱花/海盐）") == ["500ml（樱花/海盐）"]


def test_a_dash_for_dates_is_an_offer_without_dates(tmp_path: Path) -> None:
    promos = {p.title: p for p in load(tmp_path) if isinstance(p, Promotion)}
    standing = promos["关注店铺券（长期）"]
    assert (standing.starts, standing.ends) == (None, None)
    assert promos["双12年终园艺季"].ends == date(2026, 12, 12)


def test_a_spec_priced_out_of_stock_is_said_out_of_stock(tmp_path: Path) -> None:
    heads = next(e for e in load(tmp_path) if isinstance(e, Product) and e.id == "PC07")
    assert {v.name: str(v.price) for v in heads.variants} == {
        "清洁型 4支装": "49", "美白型 4支装": "55",
    }  # fmt: skip
    assert heads.in_stock  # one option is out, not the product
    assert "库存：美白型 4支装缺货" in heads.usage_notes


def test_both_note_columns_are_kept(tmp_path: Path) -> None:
    heads = next(e for e in load(tmp_path) if isinstance(e, Product) and e.id == "PC07")
    assert "不适配K1儿童款" in heads.usage_notes
    assert "美白型预计12月15日到货" in heads.usage_notes

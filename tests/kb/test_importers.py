"""Importing trainer files (CSV/TSV/XLSX/JSONL/Markdown) and exporting them back; no Redis."""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from workbooks import write_workbook

from kb.errors import InvalidEntry, KBError, KBImportError, RowError
from kb.files.codec import parse_rule
from kb.files.exporters import export_entries
from kb.files.importers import load_bytes, load_files
from kb.types import FAQ, Entry, Policy, Product, Promotion, Script, Variant

SHOP = "shop-cup"

PRODUCT_CSV = (
    "商品ID,名称,价格,规格,卖点,库存,类目\n"
    "pdd-p01,316不锈钢保温杯,89.9,500ml|750ml=109,保温12小时|不含双酚A,有货,杯具\n"
    "pdd-p02,儿童吸管杯,59,,,缺货,杯具\n"
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path: Path, name: str, sheets: dict[str, list[list[Any]]]) -> Path:
    return write_workbook(tmp_path / name, sheets)


def import_errors(
    paths: Sequence[Path] = (), *, kind: str | None = None, data: tuple[str, bytes] | None = None
) -> tuple[str, list[RowError]]:
    """Run an import that must fail; return the exception text and its RowErrors."""
    with pytest.raises(KBImportError) as caught:
        if data is not None:
            load_bytes(SHOP, data[0], data[1], kind=kind)
        else:
            load_files(SHOP, paths, kind=kind)
    return str(caught.value), list(caught.value.errors)


def only_error(paths: Sequence[Path] = (), **kwargs: Any) -> tuple[str, RowError]:
    message, errors = import_errors(paths, **kwargs)
    assert len(errors) == 1, errors
    return message, errors[0]


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_chinese_excel_encoding(tmp_path: Path, encoding: str) -> None:
    entries = load_files(SHOP, [write(tmp_path, "商品.csv", PRODUCT_CSV, encoding)])
    cup, kids = entries
    assert isinstance(cup, Product) and isinstance(kids, Product)
    assert (cup.id, cup.title, cup.category) == ("pdd-p01", "316不锈钢保温杯", "杯具")
    assert cup.price == Decimal("89.9")
    assert cup.variants == (Variant("500ml"), Variant("750ml", Decimal("109")))
    assert cup.selling_points == ("保温12小时", "不含双酚A")
    assert cup.in_stock and not kids.in_stock
    assert cup.shop_id == SHOP


def test_csv_with_english_headers_in_any_case(tmp_path: Path) -> None:
    text = " Question ,ANSWER,alt_questions,Product_ID,intent\n能装开水吗,可以的亲,能装热水吗|可以倒开水吗,pdd-p01,usage\n"
    (faq,) = load_files(SHOP, [write(tmp_path, "faq.csv", text)])
    assert isinstance(faq, FAQ)
    assert faq.question == "能装开水吗" and faq.answer == "可以的亲"
    assert faq.alt_questions == ("能装热水吗", "可以倒开水吗")
    assert (faq.product_id, faq.intent) == ("pdd-p01", "usage")
    assert faq.id.startswith("faq-")


def test_header_annotations_and_full_width_parentheses(tmp_path: Path) -> None:
    text = "商品ID*,商品名称,售价（元）,库存(件)\npdd-p01,保温杯,¥89.00,0\n"
    (cup,) = load_files(SHOP, [write(tmp_path, "p.csv", text)])
    assert isinstance(cup, Product)
    assert cup.price == Decimal("89") and cup.in_stock is False  # a stock count of 0


def test_tsv_and_quoted_multiline_cells(tmp_path: Path) -> None:
    text = '问题\t答案\n发什么快递\t"默认中通，\n偏远地区邮政"\n'
    (faq,) = load_files(SHOP, [write(tmp_path, "faq.tsv", text)])
    assert isinstance(faq, FAQ) and faq.answer == "默认中通，\n偏远地区邮政"


def test_xlsx_numeric_cells_become_plain_text(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path,
        "shop.xlsx",
        {
            "商品": [
                ["商品ID", "名称", "价格", "库存"],
                [1001, "保温杯", 89.9, True],
                [1002.0, "吸管杯", 59, 5],
            ],
            "活动": [
                ["活动名称", "规则", "适用商品", "开始时间", "结束时间"],
                ["双11", "满199减20", 1001, datetime(2026, 11, 1), date(2026, 11, 11)],
            ],
            "模板": [["问题", "答案"]],  # header only: skipped, not an error
        },
    )
    cup, kids, sale = load_files(SHOP, [path])
    assert isinstance(cup, Product) and isinstance(kids, Product) and isinstance(sale, Promotion)
    assert (cup.id, kids.id) == ("1001", "1002")  # not "1001.0"
    assert (cup.price, kids.price) == (Decimal("89.9"), Decimal("59"))
    assert cup.in_stock and kids.in_stock
    assert sale.product_ids == ("1001",)
    assert (sale.starts, sale.ends) == (date(2026, 11, 1), date(2026, 11, 11))


def test_xlsx_kind_column_mixes_kinds_in_one_sheet(tmp_path: Path) -> None:
    rows = [
        [None],  # a blank first row: the header is the first non-blank row
        ["类型", "商品ID", "名称", "价格", "问题", "答案"],
        ["商品", "pdd-p01", "保温杯", 89, None, None],
        ["FAQ", None, None, None, "保温多久", "12小时"],
        ["faq", "pdd-p01", None, None, "能装开水吗", "可以"],
    ]
    product, faq, faq2 = load_files(SHOP, [write_xlsx(tmp_path, "mixed.xlsx", {"Sheet1": rows})])
    assert isinstance(product, Product) and isinstance(faq, FAQ) and isinstance(faq2, FAQ)
    assert faq.product_id is None and faq2.product_id == "pdd-p01"  # 商品ID is product_id for FAQ


def test_sheet_name_decides_kind_before_headers(tmp_path: Path) -> None:
    rows = [["标题", "内容"], ["催单", "亲，已经在加急处理了"]]
    (script,) = load_files(SHOP, [write_xlsx(tmp_path, "s.xlsx", {"客服话术": rows})])
    assert isinstance(script, Script) and script.text == "亲，已经在加急处理了"


@pytest.mark.parametrize(
    ("header", "row", "kind"),
    [
        ("问题,答案", "保温多久,12小时", FAQ),
        ("商品ID,名称,价格", "p1,杯子,9.9", Product),
        ("活动名称,规则", "双11,8折", Promotion),
        ("意图,话术", "greeting,亲在的", Script),
        ("标题,内容,类别", "七天无理由,支持七天无理由退货,returns", Policy),
    ],
)
def test_kind_from_headers(tmp_path: Path, header: str, row: str, kind: type) -> None:
    (entry,) = load_files(SHOP, [write(tmp_path, "x.csv", f"{header}\n{row}\n")])
    assert isinstance(entry, kind)


def test_kind_argument_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "标题,内容\n催单,亲，已加急\n")
    assert isinstance(load_files(SHOP, [path])[0], Policy)
    assert isinstance(load_files(SHOP, [path], kind="script")[0], Script)
    assert isinstance(load_files(SHOP, [path], kind="话术")[0], Script)
    with pytest.raises(InvalidEntry):
        load_files(SHOP, [path], kind="widget")


def test_jsonl(tmp_path: Path) -> None:
    lines = [
        {
            "kind": "product",
            "id": "p1",
            "title": "保温杯",
            "price": 89.9,
            "variants": [{"name": "500ml", "price": None}],
        },
        {
            "kind": "问答",
            "question": "保温多久",
            "answer": "12小时",
            "alt_questions": ["能保温多久"],
        },
    ]
    text = (
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines[:1])
        + "\n\n"
        + json.dumps(lines[1])
        + "\n"
    )
    product, faq = load_files(SHOP, [write(tmp_path, "kb.jsonl", text)])
    assert isinstance(product, Product) and product.price == Decimal("89.9")
    assert isinstance(faq, FAQ) and faq.alt_questions == ("能保温多久",)


MARKDOWN = """# 保温杯常见问题（标题忽略）
说明文字也忽略。

## 这个杯子能装开水吗？
相似问法: 能不能装热水 | 可以倒开水吗
商品ID：pdd-p01
意图: usage
可以的亲，杯身是316不锈钢。

开水放凉一点再拧紧盖子哦。

Q：多久能发货？
ID: faq-ship
答：48小时内发货。
"""


def test_markdown_faq(tmp_path: Path) -> None:
    water, ship = load_files(SHOP, [write(tmp_path, "faq.md", MARKDOWN)])
    assert isinstance(water, FAQ) and isinstance(ship, FAQ)
    assert water.question == "这个杯子能装开水吗？"
    assert water.alt_questions == ("能不能装热水", "可以倒开水吗")
    assert (water.product_id, water.intent) == ("pdd-p01", "usage")
    assert water.answer == "可以的亲，杯身是316不锈钢。\n\n开水放凉一点再拧紧盖子哦。"
    assert (ship.id, ship.question, ship.answer) == ("faq-ship", "多久能发货？", "48小时内发货。")


def test_several_files_in_one_call(tmp_path: Path) -> None:
    paths = [write(tmp_path, "p.csv", PRODUCT_CSV), write(tmp_path, "faq.md", MARKDOWN)]
    assert [e.kind for e in load_files(SHOP, paths)] == ["product", "product", "faq", "faq"]


@pytest.mark.parametrize("name", ["p.csv", "p.tsv", "faq.md", "kb.jsonl", "shop.xlsx"])
def test_load_bytes_same_as_load_files(tmp_path: Path, name: str) -> None:
    entries = sample_entries()
    path = tmp_path / name
    if name.endswith(".md"):
        path = write(tmp_path, name, MARKDOWN)
    else:
        export_entries(entries, path)
    from_bytes = load_bytes(SHOP, f"C:\\Users\\trainer\\{name}", path.read_bytes())
    assert from_bytes == load_files(SHOP, [path])


# --- bad input -----------------------------------------------------------------------------


def test_missing_required_column(tmp_path: Path) -> None:
    message, error = only_error(
        [write(tmp_path, "faq.csv", "问题,相似问法\n保温多久,能保温多久\n")]
    )
    assert (error.file, error.row, error.column) == ("faq.csv", 1, "答案")
    assert "answer" in error.message and "答案" in error.message
    assert "faq.csv, row 1, column '答案'" in message


def test_empty_question_names_the_header_as_written(tmp_path: Path) -> None:
    text = "顾客问,回答\n保温多久,12小时\n  ,能装的\n"
    message, error = only_error([write(tmp_path, "faq.csv", text)])
    assert (error.file, error.row, error.column) == ("faq.csv", 3, "顾客问")
    assert "must not be empty" in error.message and "row 3" in message


def test_price_not_a_number(tmp_path: Path) -> None:
    text = "商品ID,名称,价格\np1,保温杯,89.9\n\np2,吸管杯,面议\n"  # the blank row still counts
    message, error = only_error([write(tmp_path, "p.csv", text)])
    assert (error.file, error.row, error.column) == ("p.csv", 4, "价格")
    assert "面议" in error.message and "not a number" in message


def test_xlsx_error_names_sheet_and_row(tmp_path: Path) -> None:
    rows = [["商品ID", "名称", "售价"], [1001, "保温杯", "abc"]]
    _, error = only_error([write_xlsx(tmp_path, "shop.xlsx", {"商品": rows})])
    assert (error.file, error.row, error.column) == ("shop.xlsx:商品", 2, "售价")


def test_duplicate_id_across_files_names_the_first(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", PRODUCT_CSV)
    second = write(tmp_path, "b.csv", "商品ID,名称,价格\np9,杯盖,9\npdd-p02,吸管杯,59\n")
    message, error = only_error([first, second])
    assert (error.file, error.row, error.column) == ("b.csv", 3, "商品ID")
    assert "'pdd-p02'" in error.message and "a.csv, row 3" in error.message
    assert "b.csv, row 3" in message


def test_duplicate_question_without_id(tmp_path: Path) -> None:
    _, error = only_error(
        [write(tmp_path, "faq.csv", "问题,答案\n保温多久,12小时\n保温多久,半天\n")]
    )
    assert (error.row, error.column) == (3, "问题") and "row 2" in error.message


@pytest.mark.parametrize(
    "data",
    [b"\x80\x81\xff\xfe\x00", "问题,答案\n保温多久,12小时\n".encode("utf-16-le")],
    ids=["garbage", "utf16-no-bom"],
)
def test_unknown_encoding(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(data)
    message, error = only_error([path])
    assert error.file == "faq.csv" and error.message == "unknown encoding; save as UTF-8"
    assert "faq.csv: unknown encoding" in message


def test_utf16_with_bom_is_fine() -> None:
    data = codecs.BOM_UTF16_LE + "问题\t答案\n保温多久\t12小时\n".encode("utf-16-le")
    assert len(load_bytes(SHOP, "faq.tsv", data)) == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("e.csv", ""),
        ("e.csv", " \n\n"),
        ("h.csv", "问题,答案\n"),
        ("h.csv", "问题,答案\n,\n"),
        ("e.jsonl", ""),
        ("e.md", "# 只有标题\n"),
    ],
)
def test_empty_or_header_only_file(tmp_path: Path, name: str, text: str) -> None:
    message, error = only_error([write(tmp_path, name, text)])
    assert error.file == name and error.row is None and name in message


def test_xlsx_without_data_rows_and_corrupt_xlsx(tmp_path: Path) -> None:
    _, error = only_error([write_xlsx(tmp_path, "t.xlsx", {"问答": [["问题", "答案"]]})])
    assert error.file == "t.xlsx" and "no data rows" in error.message
    _, error = only_error(data=("bad.xlsx", b"PK not really a zip"))
    assert error.file == "bad.xlsx" and "xlsx" in error.message


def test_undecidable_kind_lists_required_headers(tmp_path: Path) -> None:
    _, error = only_error([write(tmp_path, "x.csv", "名字,备注\n张三,老客户\n")])
    assert (error.file, error.row) == ("x.csv", 1)
    for needed in (
        "问题/question",
        "答案/answer",
        "价格/price",
        "规则/rule",
        "话术/text",
        "内容/content",
    ):
        assert needed in error.message


def test_unknown_kind_value(tmp_path: Path) -> None:
    _, error = only_error([write(tmp_path, "x.csv", "类型,问题,答案\n问答,a,b\n订单,c,d\n")])
    assert (error.row, error.column) == (3, "类型") and "'订单'" in error.message


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    text = '{"kind": "faq", "question": "a", "answer": "b"}\n{"kind": "faq", oops}\n[1]\n\n{"question": "c"}\n'
    _, errors = import_errors([write(tmp_path, "kb.jsonl", text)])
    assert [(e.file, e.row) for e in errors] == [("kb.jsonl", 2), ("kb.jsonl", 3), ("kb.jsonl", 5)]
    assert "not valid JSON" in errors[0].message and errors[2].column == "kind"


def test_markdown_question_without_answer(tmp_path: Path) -> None:
    text = "# FAQ\n## 保温多久\n12小时\n## 能装开水吗\n相似问法: 能装热水吗\n\n## 包邮吗\n包邮\n"
    message, error = only_error([write(tmp_path, "faq.md", text)])
    assert (error.file, error.row, error.column) == ("faq.md", 4, "答案")
    assert "faq.md, row 4" in message


def test_markdown_bad_metadata_names_its_line(tmp_path: Path) -> None:
    _, error = only_error([write(tmp_path, "faq.md", "## 保温多久\nID: 坏 id\n12小时\n")])
    assert (error.row, error.column) == (2, "ID")


def test_unsupported_extension_and_missing_file(tmp_path: Path) -> None:
    _, errors = import_errors([write(tmp_path, "old.xls", "x"), tmp_path / "nope.csv"])
    assert [e.file for e in errors] == ["old.xls", "nope.csv"]
    assert ".xlsx" in errors[0].message


def test_all_or_nothing_collects_every_error(tmp_path: Path) -> None:
    good = write(tmp_path, "good.csv", PRODUCT_CSV)
    rows = "".join(f"q{i},a{i}\n" for i in range(20)) + ",没有问题的答案\n"
    bad = write(tmp_path, "faq.csv", "问题,答案\n" + rows)
    md = write(tmp_path, "faq.md", "## 没有答案\n")
    message, errors = import_errors([good, bad, md])
    assert [(e.file, e.row) for e in errors] == [("faq.csv", 22), ("faq.md", 1)]
    assert "nothing was changed (2 error(s))" in message


# --- export -> import ----------------------------------------------------------------------


def sample_entries() -> list[Entry]:
    return [
        Product(
            SHOP,
            "pdd-p01",
            "316不锈钢保温杯",
            Decimal("89.9"),
            variants=(Variant("500ml"), Variant("750ml", Decimal("109.5"))),
            selling_points=("保温12小时", "不含双酚A"),
            usage_notes="首次使用请清洗",
            related=("pdd-p02",),
            category="杯具",
        ),
        Product(SHOP, "1002", "儿童吸管杯", Decimal("59"), in_stock=False),
        FAQ(
            SHOP,
            "faq-water",
            "能装开水吗？",
            "可以的亲。\n开水放凉再拧紧盖子。",
            alt_questions=("能装热水吗", "可以倒开水吗"),
            product_id="pdd-p01",
            intent="usage",
        ),
        FAQ(SHOP, "faq-formula", "怎么算优惠", "=满199减20，下单自动减"),
        Policy(SHOP, "pol-return", "returns", "七天无理由", "签收后7天内可退，需不影响二次销售。"),
        Promotion(
            SHOP,
            "promo-1111",
            "双11",
            "满199减20",
            parse_rule("满199减20"),
            product_ids=("pdd-p01", "1002"),
            starts=date(2026, 11, 1),
            ends=date(2026, 11, 11),
            description="全店通用",
        ),
        Promotion(SHOP, "promo-8", "会员日", "8折", parse_rule("8折")),
        Script(SHOP, "s-urge", "urge", "催单", "亲，已经帮您加急了～"),
    ]


def _sorted(entries: Sequence[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.kind, e.id))


@pytest.mark.parametrize("name", ["kb.jsonl", "kb.xlsx", "kb.csv", "kb.tsv"])
def test_export_import_round_trip(tmp_path: Path, name: str) -> None:
    entries = sample_entries()
    path = tmp_path / name
    assert export_entries(entries, path) == len(entries)
    assert _sorted(load_files(SHOP, [path])) == _sorted(entries)


def test_csv_export_opens_in_excel(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    export_entries(sample_entries(), path)
    data = path.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:4] == ["类型", "商品ID", "名称", "价格"] and "问题" in header


def test_xlsx_export_has_one_sheet_per_kind(tmp_path: Path) -> None:
    path = tmp_path / "kb.xlsx"
    export_entries(sample_entries(), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["商品", "问答", "政策", "活动", "话术"]
    faq_headers = [c.value for c in book["问答"][1]]
    assert faq_headers == ["编号", "问题", "答案", "相似问法", "商品ID", "意图"]


def test_export_refuses_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(KBError, match=r"\.xlsx"):
        export_entries(sample_entries(), tmp_path / "kb.xls")


@pytest.mark.parametrize("name", ["kb.xlsx", "kb.csv", "kb.tsv"])
def test_exports_never_hold_a_formula_and_still_import_as_they_were(
    tmp_path: Path, name: str
) -> None:
    hostile = [
        FAQ(SHOP, "f1", "怎么算", "=cmd|' /C calc'!A0"),
        FAQ(SHOP, "f2", "再问", "\x01=1+1"),
        FAQ(SHOP, "f3", "优惠", "-10元的券已发放"),
        FAQ(SHOP, "f4", "邮箱", "@客服 请看"),
    ]
    path = tmp_path / name
    export_entries(hostile, path)
    if name == "kb.xlsx":
        book = openpyxl.load_workbook(path)
        cells = [c for row in book.worksheets[0].iter_rows() for c in row if c.value]
        assert not any(c.data_type == "f" for c in cells)
    else:
        raw = path.read_text(encoding="utf-8-sig")
        delimiter = "\t" if name.endswith("tsv") else ","
        fields = [f for line in raw.splitlines() for f in line.split(delimiter)]
        assert not any(f.strip('"').startswith(("=", "+", "-", "@")) for f in fields)
    back = {e.id: e.answer for e in load_files(SHOP, [path]) if isinstance(e, FAQ)}
    assert back == {"f1": "=cmd|' /C calc'!A0", "f2": "=1+1", "f3": "-10元的券已发放",
                    "f4": "@客服 请看"}  # fmt: skip

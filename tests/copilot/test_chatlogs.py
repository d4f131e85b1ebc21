"""Chat-log readers: our JSONL, the JDDC chat TSV and generic CSV exports, good and malformed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from copilot.errors import HistoryImportError
from copilot.history.chatlogs import parse_chats, parse_ts, read_chats, sniff_format
from copilot.types import Turn
from kb.demo_shops import demo_shops

JDDC_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "jddc" / "chat_0.1per.txt"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def jsonl(*objects: object) -> str:
    return "\n".join(
        o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objects
    )


GOOD_CONVERSATION = {
    "conversation_id": "c1",
    "shop_id": "demo-pdd",
    "turns": [
        {"role": "customer", "text": " 杯子漏水了 ", "intent": "damaged_item", "ts": 1700000000},
        {
            "role": "agent",
            "text": "亲，麻烦拍一下漏水的位置哦",
            "alt_replies": ["亲，方便发张照片吗", "亲，拍个视频给我看看"],
            "ts": "2023-11-15 06:13:25",
        },
        {"role": "customer", "text": "不想要了，转人工", "handoff": True},
    ],
}


# --- JSONL -----------------------------------------------------------------------------------


def test_jsonl_keeps_turns_and_their_labels(tmp_path: Path) -> None:
    log = read_chats(write(tmp_path, "chats.jsonl", jsonl(GOOD_CONVERSATION)))
    assert log.format == "jsonl" and log.skipped == []
    (conversation,) = log.conversations
    assert conversation.conversation_id == "c1" and conversation.shop_id == "demo-pdd"
    assert [t.role for t in conversation.turns] == ["customer", "agent", "customer"]
    assert conversation.turns[0] == Turn("customer", "杯子漏水了", 1700000000.0)
    assert conversation.turns[1].ts == 1700000005.0  # 2023-11-15 06:13:25 China time
    assert log.turn_labels == {
        ("c1", 0): {"intent": "damaged_item"},
        ("c1", 1): {"alt_replies": ["亲，方便发张照片吗", "亲，拍个视频给我看看"]},
        ("c1", 2): {"handoff": True},
    }


def test_jsonl_skips_malformed_lines_with_their_numbers_and_reasons(tmp_path: Path) -> None:
    text = jsonl(
        GOOD_CONVERSATION,
        '{"conversation_id": "c2", "turns": [',
        "",
        {"conversation_id": "c3", "turns": []},
        {"conversation_id": "c4", "turns": [{"role": "机器人", "text": "您好"}]},
        {"conversation_id": "c5", "turns": [{"role": "customer", "text": "  "}]},
        {"conversation_id": "c6", "turns": [{"role": "customer", "text": "在吗", "ts": "昨天"}]},
        {**GOOD_CONVERSATION, "shop_id": "demo-pdd"},
        {
            "conversation_id": "c7",
            "turns": [{"role": "buyer", "text": "在吗"}, {"role": "客服", "text": "在的亲"}],
        },
        "[1, 2]",
    )
    log = read_chats(write(tmp_path, "chats.jsonl", text), shop_id="demo-pdd")
    assert [c.conversation_id for c in log.conversations] == ["c1", "c7"]
    assert [t.role for t in log.conversations[1].turns] == ["customer", "agent"]
    reasons = {error.line: error.message for error in log.skipped}
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 10]
    assert reasons[2].startswith("not JSON")
    assert "'turns' must be a non-empty list" in reasons[4]
    assert "turn 1: role '机器人'" in reasons[5]
    assert "turn 1: 'text' must be a non-empty string" in reasons[6]
    assert "'昨天' is not a unix time" in reasons[7]
    assert reasons[8] == "duplicate conversation id 'c1'"
    assert reasons[10] == "not a JSON object"
    assert all(error.file == "chats.jsonl" for error in log.skipped)


def test_jsonl_line_of_another_shop_is_skipped_when_a_shop_is_given(tmp_path: Path) -> None:
    other = {**GOOD_CONVERSATION, "conversation_id": "c2", "shop_id": "demo-ks"}
    unnamed = {"conversation_id": "c3", "turns": GOOD_CONVERSATION["turns"]}
    path = write(tmp_path, "chats.jsonl", jsonl(GOOD_CONVERSATION, other, unnamed))
    log = read_chats(path, shop_id="demo-pdd")
    assert [(c.conversation_id, c.shop_id) for c in log.conversations] == [
        ("c1", "demo-pdd"),
        ("c3", "demo-pdd"),
    ]
    assert [(e.line, e.message) for e in log.skipped] == [
        (2, "belongs to shop 'demo-ks', not 'demo-pdd'")
    ]
    without_shop = read_chats(path)
    assert [c.shop_id for c in without_shop.conversations] == ["demo-pdd", "demo-ks", ""]


def test_a_file_where_nothing_can_be_read_raises_with_every_error(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", 'not json\n{"turns": 3}\n')
    with pytest.raises(HistoryImportError) as caught:
        read_chats(path)
    assert [(e.file, e.line) for e in caught.value.errors] == [("bad.jsonl", 1), ("bad.jsonl", 2)]
    assert "bad.jsonl, line 2" in str(caught.value)


def test_missing_file_and_unknown_encoding_raise(tmp_path: Path) -> None:
    with pytest.raises(HistoryImportError, match="cannot read"):
        read_chats(tmp_path / "nowhere.jsonl")
    with pytest.raises(HistoryImportError, match="unknown encoding"):
        parse_chats("x.csv", b"abc\x81")
    with pytest.raises(HistoryImportError, match="no conversations"):
        parse_chats("empty.jsonl", b"\n\n")


def test_demo_chats_read_cleanly_with_their_intents() -> None:
    for shop in demo_shops():
        log = read_chats(shop.chats_file, shop_id=shop.shop_id)
        assert log.skipped == [] and len(log.conversations) == 5
        assert all(c.shop_id == shop.shop_id for c in log.conversations)
        intents = [labels["intent"] for labels in log.turn_labels.values()]
        assert intents and all(isinstance(i, str) and i for i in intents)


# --- JDDC TSV --------------------------------------------------------------------------------

JDDC_TSV = "\n".join(
    [
        "s1\tUSERID_1\t0\t0\t0\tnan\t在吗",
        "s1\tUSERID_1\t0\t0\t0\t1234567\t这个冰箱什么时候能送到",
        "s1\tUSERID_1\t1\t0\t0\tnan\t您好，请稍等",
        "s1\tUSERID_1\t1\t1\t0\tnan\t预计[数字x]天内送达",
        "s1\tUSERID_1\t0\t0\t0\tnan\tNULL",
        "s2\tUSERID_2\t0\t0\t1\tnan\t发票开了吗",
        "s2\tUSERID_2\t2\t0\t0\tnan\t这一行的发送方不对",
        "s2\tUSERID_2\t1\t0\t0\tnan",
        "s2\tUSERID_2\t1\t0\t0\tnan\t已经开好了，在订单详情里下载",
        "",
    ]
)


def test_jddc_joins_one_sides_messages_into_a_turn_and_keeps_the_flags(tmp_path: Path) -> None:
    log = read_chats(write(tmp_path, "chat.txt", JDDC_TSV))
    assert log.format == "jddc"
    first, second = log.conversations
    assert first.conversation_id == "s1" and first.shop_id == ""
    assert first.turns == (
        Turn("customer", "在吗，这个冰箱什么时候能送到"),
        Turn("agent", "您好，请稍等，预计[数字x]天内送达"),
    )
    assert [t.text for t in second.turns] == ["发票开了吗", "已经开好了，在订单详情里下载"]
    assert log.turn_labels == {
        ("s1", 0): {"sku": "1234567"},
        ("s1", 1): {"handoff": True},
        ("s2", 0): {"repeat": True},
    }
    assert [(e.line, e.message) for e in log.skipped] == [
        (7, "sent-by-agent must be 0 or 1, not '2'"),
        (8, "expected 7 tab-separated columns, found 6"),
    ]


def test_jddc_shop_argument_and_format_override(tmp_path: Path) -> None:
    log = read_chats(write(tmp_path, "export.tsv", JDDC_TSV), format="jddc", shop_id="jd-shop")
    assert {c.shop_id for c in log.conversations} == {"jd-shop"}


@pytest.mark.skipif(not JDDC_SAMPLE.exists(), reason=f"JDDC sample not present at {JDDC_SAMPLE}")
def test_the_real_jddc_sample_reads_whole() -> None:
    log = read_chats(JDDC_SAMPLE)
    assert log.format == "jddc" and log.skipped == []
    assert len(log.conversations) == 994  # PROVENANCE.md: 994 sessions, 12,136 messages
    assert log.turns <= 12136
    assert all(c.turns for c in log.conversations)


# --- CSV -------------------------------------------------------------------------------------

CSV_ZH = """会话ID,时间,发送方,内容,意图
a1,2024-03-01 10:00:05,顾客,羽绒服有160的吗,stock
b7,2024-03-01 10:00:30,买家,退货地址发我一下,return
a1,2024-03-01 10:00:20,客服,亲，160码有货的,
a1,2024-03-01 10:00:10,顾客,要黑色的,
b7,2024-03-01 10:01:00,商家,亲，已在订单里提交退货申请了,
"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_in_every_encoding(tmp_path: Path, encoding: str) -> None:
    log = read_chats(write(tmp_path, "导出.csv", CSV_ZH, encoding), shop_id="demo-ks")
    assert log.format == "csv" and log.skipped == []
    a1, b7 = log.conversations
    # Rows of a conversation need not be adjacent; times put them in order.
    assert [t.text for t in a1.turns] == ["羽绒服有160的吗，要黑色的", "亲，160码有货的"]
    assert a1.turns[0].ts == datetime(2024, 3, 1, 2, 0, 5, tzinfo=UTC).timestamp()
    assert [t.role for t in b7.turns] == ["customer", "agent"]
    assert log.turn_labels[("a1", 0)] == {"intent": "stock"}
    assert {c.shop_id for c in log.conversations} == {"demo-ks"}


def test_csv_with_english_headers_tabs_and_bad_rows(tmp_path: Path) -> None:
    text = (
        "Session_ID\tRole\tMessage\tTimestamp\n"
        "x\tuser\thello 在吗\t1709258400000\n"
        "x\tassistant\t在的亲\t1709258405\n"
        "x\trobot\t自动回复\t1709258406\n"
        "\t\t\t\n"
        "x\tuser\t\t1709258407\n"
        "x\tuser\t改地址\tnext week\n"
    )
    log = read_chats(write(tmp_path, "chats.tsv", text))
    (conversation,) = log.conversations
    assert [t.text for t in conversation.turns] == ["hello 在吗", "在的亲"]
    assert conversation.turns[0].ts == 1709258400.0  # milliseconds
    assert [(e.line, e.message.split(" ")[0]) for e in log.skipped] == [
        (4, "sender"),
        (6, "empty"),
        (7, "time"),
    ]


def test_csv_rows_of_another_shop_are_skipped_when_a_shop_is_given(tmp_path: Path) -> None:
    text = "店铺,会话ID,发送方,内容\ndemo-ks,a,顾客,在吗\ndemo-pdd,a,客服,在的亲\n,a,客服,请讲\n"
    log = read_chats(write(tmp_path, "chats.csv", text), shop_id="demo-ks")
    assert [t.text for t in log.conversations[0].turns] == ["在吗", "请讲"]
    assert [(e.line, e.message) for e in log.skipped] == [
        (3, "belongs to shop 'demo-pdd', not 'demo-ks'")
    ]


def test_csv_without_the_required_columns_names_them(tmp_path: Path) -> None:
    with pytest.raises(HistoryImportError) as caught:
        read_chats(write(tmp_path, "chats.csv", "时间,内容\n2024-03-01,你好\n"))
    (error,) = caught.value.errors
    assert error.line == 1
    assert "会话ID/conversation_id" in error.message and "发送方/role" in error.message


# --- shared ----------------------------------------------------------------------------------


def test_format_sniffing() -> None:
    assert sniff_format("a.jsonl", "") == "jsonl"
    assert sniff_format("a.csv", "s\tu\t0\t0\t0\tnan\t你好") == "csv"  # the extension wins
    assert sniff_format("chat.txt", "s\tu\t0\t0\t0\tnan\t你好") == "jddc"
    assert sniff_format("dump.txt", '{"turns": []}') == "jsonl"
    assert sniff_format("a.tsv", "会话ID\t发送方\t内容") == "csv"


def test_timestamps() -> None:
    assert parse_ts(None) is None and parse_ts("") is None
    assert parse_ts(1700000000) == 1700000000.0
    assert parse_ts("1700000000123") == 1700000000.123
    assert parse_ts("2023/11/15 06:13:20") == 1700000000.0  # China time
    assert parse_ts("2023-11-14T22:13:20+00:00") == 1700000000.0
    with pytest.raises(ValueError):
        parse_ts(True)

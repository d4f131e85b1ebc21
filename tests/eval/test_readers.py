"""Importers with malformed input, the split and the leakage guard (no models needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.types import Conversation, Turn
from eval.baselines import mine_bank
from eval.errors import EvalInputError, LeakageError
from eval.readers import read_corpus, replay_items
from eval.runner import RunOptions, prepare
from eval.split import check_no_leakage, split_conversations


def _line(cid: str, turns: list[dict], shop: str | None = None) -> str:
    data: dict = {"conversation_id": cid, "turns": turns}
    if shop:
        data["shop_id"] = shop
    return json.dumps(data, ensure_ascii=False)


GOOD = [
    {"role": "customer", "text": "什么时候发货", "intent": "shipping_time"},
    {"role": "agent", "text": "亲，付款后48小时内发货哦", "alt_replies": ["两天内发出哦"]},
    {"role": "customer", "text": "好的谢谢"},
    {"role": "agent", "text": "不客气亲", "handoff": False},
]


def test_jsonl_malformed_lines_are_skipped_with_line_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "conversations.jsonl"
    path.write_text(
        "\n".join(
            [
                _line("c1", GOOD),
                "{not json",
                _line("c2", [{"role": "顾客", "text": "在吗"}, {"role": "robot", "text": "在"}]),
                _line("c3", []),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    log = read_corpus(path, shop_id="test-shop")
    assert [c.conversation_id for c in log.conversations] == ["c1"]
    reasons = {e.line: e.message for e in log.skipped}
    assert set(reasons) == {2, 3, 4}
    assert "not JSON" in reasons[2]
    assert "role 'robot'" in reasons[3]
    assert "turns" in reasons[4]


def test_a_file_with_nothing_readable_names_every_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{oops\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(EvalInputError) as caught:
        read_corpus(path)
    assert "line 1" in str(caught.value) and "line 2" in str(caught.value)
    assert len(caught.value.errors) == 2


def test_jddc_malformed_lines(tmp_path: Path) -> None:
    rows = [
        "s1\tu1\t0\t0\t0\tnan\t我的快递到哪了",
        "s1\tu1\t1\t0\t0\tnan\t亲，请您提供下订单号",
        "s1\tu1\t2\t0\t0\tnan\t发送方写错了",
        "s1\tu1\t0\t0\t0\tnan",
        "s1\tu1\t0\tx\t0\tnan\t转人工标志写错了",
        "s1\tu1\t0\t1\t0\tnan\t[订单x]",
        "s1\tu1\t1\t0\t0\tnan\t已为您转接",
    ]
    path = tmp_path / "chat.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    log = read_corpus(path, format="jddc", shop_id="jddc")
    assert {e.line for e in log.skipped} == {3, 4, 5}
    messages = {e.line: e.message for e in log.skipped}
    assert (
        "0 or 1" in messages[3]
        and "7 tab-separated" in messages[4]
        and "transferred" in messages[5]
    )
    [conversation] = log.conversations
    items = list(replay_items(log.conversations, log.turn_labels))
    assert [i.turn_index for i in items] == [1, 3]
    assert items[1].gold_handoff is True  # the transferred flag on the customer's turn
    assert conversation.shop_id == "jddc"


def test_csv_missing_column_and_bad_rows(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("会话ID,内容\nc1,在吗\n", encoding="utf-8")
    with pytest.raises(EvalInputError) as caught:
        read_corpus(missing)
    assert "发送方/role" in str(caught.value)

    path = tmp_path / "chats.csv"
    path.write_text(
        "会话ID,时间,发送方,内容\n"
        "c1,2026-11-01 10:00:00,买家,这件有M码吗\n"
        "c1,2026-11-01 10:00:05,外星人,你好\n"
        "c1,2026-11-01 10:00:09,客服,亲，M码有货的\n"
        ",2026-11-01 10:00:10,买家,没有会话号\n"
        "c1,昨天下午,买家,时间写错了\n",
        encoding="utf-8",
    )
    log = read_corpus(path, shop_id="test-shop")
    assert {e.line for e in log.skipped} == {3, 5, 6}
    [item] = list(replay_items(log.conversations, log.turn_labels))
    assert item.actual_reply == "亲，M码有货的"
    assert item.customer_msg == "这件有M码吗"


def test_replay_items_carry_labels(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_line("c1", GOOD, shop="test-shop") + "\n", encoding="utf-8")
    log = read_corpus(path)
    first, second = replay_items(log.conversations, log.turn_labels)
    assert first.alt_replies == ("两天内发出哦",)
    assert first.gold_intent == "shipping_time"
    assert first.references == ("亲，付款后48小时内发货哦", "两天内发出哦")
    assert [t.text for t in first.context.turns] == ["什么时候发货"]
    assert second.gold_handoff is False and second.gold_intent is None


def _conversations(n: int) -> list[Conversation]:
    return [
        Conversation(
            "test-shop",
            (Turn("customer", f"第{i}单什么时候到"), Turn("agent", f"亲，第{i}单明天到哦")),
            conversation_id=f"c{i:03d}",
        )
        for i in range(n)
    ]


def test_split_is_seeded_disjoint_and_80_20() -> None:
    conversations = _conversations(50)
    train, test = split_conversations(conversations, seed=3)
    assert len(test) == 10 and len(train) == 40
    assert not {c.conversation_id for c in train} & {c.conversation_id for c in test}
    assert split_conversations(list(reversed(conversations)), seed=3)[1] == sorted(
        test, key=lambda c: -int(str(c.conversation_id)[1:])
    )
    assert split_conversations(conversations, seed=4)[1] != test


def test_no_replayed_reply_reaches_the_bank() -> None:
    conversations = _conversations(40)
    train, test = split_conversations(conversations, seed=0)
    check_no_leakage(train, test)
    bank = {reply.text for reply in mine_bank(train, {})}
    assert bank  # the bank is not trivially empty
    replayed = {item.actual_reply for item in replay_items(test, {})}
    assert not bank & replayed


def test_leakage_guard_catches_shared_ids_and_copies() -> None:
    conversations = _conversations(5)
    with pytest.raises(LeakageError, match="also feed"):
        check_no_leakage(conversations, conversations[:1])
    copy = Conversation("test-shop", conversations[0].turns, conversation_id="copy")
    with pytest.raises(LeakageError, match="word for word"):
        check_no_leakage(conversations, [copy])


def test_history_that_holds_the_replayed_chats_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(_line("c1", GOOD, shop="test-shop") + "\n", encoding="utf-8")
    with pytest.raises(LeakageError):
        prepare(RunOptions(path, tmp_path / "out", history=path))

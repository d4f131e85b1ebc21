"""The learned reply selector: training moves the ranking, storage, fallbacks, the eval's guard."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import redis
from dates import TEST_TODAY as CLOCK_DAY

from copilot.clock import FixedClock
from copilot.feedback.log import FeedbackEvent, FeedbackLog
from copilot.feedback.records import RecordedCandidate, SuggestionLog, SuggestionRecord
from copilot.history.bank import ResponseBank, agent_text
from copilot.history.selector import LearnedSelector, SelectorStore, pool_fits
from copilot.history.selector_job import train_shop
from copilot.history.selector_training import TrainConfig
from eval.errors import LeakageError
from eval.selector import check_train_only, train_selector
from kb.models.embedder import Embedder

pytestmark = pytest.mark.slow
SHOP = "sel-shop"
GENERIC = "好的亲，请稍等，我帮您查询一下哦"
INVOICE = "亲，发票可以在订单详情页申请开具，电子发票会发到您的邮箱"
SIZE = "亲，您身高170体重60公斤的话建议选M码，版型正常"
INVOICE_ASKS = ("发票怎么开", "能开发票吗", "我要开发票", "发票在哪里申请", "可以开专票吗",
                "电子发票怎么拿", "发票抬头写公司可以吗", "开发票要多久")  # fmt: skip
SIZE_ASKS = ("尺码怎么选", "我170穿多大码", "码数偏大吗", "选什么尺码合适", "M码能穿吗",
             "衣服尺码标准吗", "60公斤穿什么码", "胖一点选大一码吗")  # fmt: skip


def write_chats(path: Path) -> Path:
    """JSONL chats as `copilot history import` reads them: each question answered once with its
    own reply and, more often, with the generic one (so the vote share favours the generic)."""
    lines, n = [], 0
    for asks, specific in ((INVOICE_ASKS, INVOICE), (SIZE_ASKS, SIZE)):
        for ask in asks:
            for reply in (specific, GENERIC, GENERIC):
                n += 1
                turns = [{"role": "customer", "text": ask}, {"role": "agent", "text": reply}]
                lines.append({"conversation_id": f"c{n}", "shop_id": SHOP, "turns": turns})
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    return path


def add_feedback(client: redis.Redis) -> None:
    """Agents sent the specific reply and dismissed the generic one, topic after topic."""
    records, log = SuggestionLog(client, clock=CLOCK), FeedbackLog(client)
    now = CLOCK.now().timestamp()
    for i, (ask, specific) in enumerate(
        [*((a, INVOICE) for a in INVOICE_ASKS), *((a, SIZE) for a in SIZE_ASKS)]
    ):
        sid = f"s{i}"
        candidates = (
            RecordedCandidate(f"{sid}:1", GENERIC, "answer", "history"),
            RecordedCandidate(f"{sid}:2", specific, "answer", "history"),
        )
        records.put(SuggestionRecord(sid, SHOP, None, now + i, ask, "other", 0.5, "suggest",
                                     None, True, candidates))  # fmt: skip
        log.append(FeedbackEvent(sid, f"{sid}:1", SHOP, "dismissed", ts=now + i))
        log.append(FeedbackEvent(sid, f"{sid}:2", SHOP, "sent", specific, ts=now + i + 1))


@pytest.fixture()
def bank(redis_client: redis.Redis, embedder: Embedder, tmp_path: Path) -> ResponseBank:
    bank = ResponseBank(redis_client, embedder)
    bank.import_file(SHOP, write_chats(tmp_path / "chats.jsonl"))
    return bank


CLOCK = FixedClock.on(CLOCK_DAY)
FAST = TrainConfig(epochs=25, batch=32, holdout=0.2, lr=5e-3)


def first_reply(bank: ResponseBank, message: str) -> str:
    return bank.search(SHOP, message, k=3)[0].text


def test_training_moves_the_ranking_toward_the_fitting_reply(
    bank: ResponseBank, redis_client: redis.Redis
) -> None:
    add_feedback(redis_client)
    store = SelectorStore(redis_client)
    feedback = (FeedbackLog(redis_client), SuggestionLog(redis_client))
    result = train_shop(bank, SHOP, store=store, clock=CLOCK, feedback=feedback, config=FAST)
    assert result.report.feedback_examples == len(INVOICE_ASKS) + len(SIZE_ASKS)
    model = store.load(SHOP)
    assert model is not None and model.bank_version == bank.stats(SHOP).version
    assert model.trained_at.startswith(CLOCK_DAY.isoformat())
    # the learned fit prefers the specific reply for a new wording, by more than e5 alone does
    query = bank.embedder.embed_batch(["开票怎么弄"], role="query")[0]
    # as served: the agent part is the chat's start (no agent turn before the message)
    agent = bank.embedder.embed_batch([agent_text("")], role="query")[0]
    rows = np.array([model.reply_ids.index(r.id) for r in bank.index(SHOP).replies  # type: ignore[union-attr]
                     if r.text in (INVOICE, GENERIC)])  # fmt: skip
    texts = [r.text for r in bank.index(SHOP).replies if r.text in (INVOICE, GENERIC)]  # type: ignore[union-attr]
    untrained = replace(model, weights=np.hstack([np.eye(len(query)), np.zeros((len(query),) * 2)]),
                        bias=np.zeros(len(query)))  # fmt: skip
    margin = {}
    for name, m in (("trained", model), ("untrained", untrained)):
        fits = dict(zip(texts, pool_fits(m, rows, m.query(query, agent)).tolist(), strict=True))
        margin[name] = (fits[INVOICE] - fits[GENERIC]) / m.scale
    assert margin["trained"] > margin["untrained"]
    assert margin["trained"] > 0
    # served through the bank: the model re-ranks the vote pool (its fit is in the parts)
    assert first_reply(bank, "发票怎么开呢") == GENERIC
    store.save(SHOP, replace(model, blend=1.0))
    learned = ResponseBank(redis_client, bank.embedder, selector=LearnedSelector(store))
    hits = learned.search(SHOP, "发票怎么开呢", k=3)
    assert len({h.text for h in hits}) == len(hits) and "fit" in hits[0].parts


def test_a_bank_without_a_model_answers_as_before(
    bank: ResponseBank, redis_client: redis.Redis
) -> None:
    learned = ResponseBank(
        redis_client, bank.embedder, selector=LearnedSelector(SelectorStore(redis_client))
    )
    for message in ("发票怎么开", "尺码怎么选"):
        assert [h.text for h in learned.search(SHOP, message)] == [
            h.text for h in bank.search(SHOP, message)
        ]


def test_storage_round_trip_and_a_moved_bank_ignores_the_model(
    bank: ResponseBank, redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = SelectorStore(redis_client)
    result = train_shop(bank, SHOP, store=store, clock=CLOCK, config=replace(FAST, epochs=2))
    model = store.load(SHOP)
    assert model is not None and model.version == result.version == store.version(SHOP)
    store.save(SHOP, replace(model, blend=1.0))
    again = store.load(SHOP)
    assert again is not None and again.version == model.version + 1 and again.blend == 1.0
    assert np.array_equal(again.weights, model.weights)
    assert np.array_equal(again.reply_vectors, model.reply_vectors)
    assert again.reply_ids == model.reply_ids and again.bank_version == model.bank_version
    selector = LearnedSelector(store)
    bank_version = bank.stats(SHOP).version
    assert selector.model(SHOP, bank_version, bank.embedder.name) is not None
    bank.import_file(SHOP, write_chats(tmp_path / "again.jsonl"))  # the bank moves on
    assert selector.model(SHOP, bank.stats(SHOP).version, bank.embedder.name) is None
    learned = ResponseBank(redis_client, bank.embedder, selector=selector)
    assert [h.text for h in learned.search(SHOP, "发票怎么开")] == [
        h.text for h in bank.search(SHOP, "发票怎么开")
    ]


def test_the_eval_trains_on_the_train_split_only(
    bank: ResponseBank, redis_client: redis.Redis, tmp_path: Path
) -> None:
    add_feedback(redis_client)  # feedback on the replayed turns must not be learned from
    train_version = bank.stats(SHOP).version
    result = train_selector(bank, SHOP, train_version, clock=CLOCK)
    assert result.bank_version == train_version and result.report.feedback_examples == 0
    bank.import_file(SHOP, write_chats(tmp_path / "test-turns.jsonl"))  # test turns leak in
    with pytest.raises(LeakageError):
        check_train_only(bank, SHOP, train_version)
    with pytest.raises(LeakageError):
        train_selector(bank, SHOP, train_version, clock=CLOCK)

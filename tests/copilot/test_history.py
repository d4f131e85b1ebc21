"""The history response bank: mining rules, merging, storage, retrieval and re-ranking, with the
real embedder, a real embedded Redis and real FAISS/bm25s."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import redis

from copilot.errors import CopilotError, HistoryImportError
from copilot.history.bank import ResponseBank
from copilot.history.mining import (
    Example,
    HistoryConfig,
    ShopNames,
    _Group,
    clean_text,
    merge_near_duplicates,
    mine,
    reply_id,
)
from copilot.text.similarity import bigrams, normalized_key
from copilot.types import Conversation, Turn
from kb.models.embedder import Embedder, Role, Vectors

JDDC_SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "jddc" / "chat_0.1per.txt"

SHIP_48H = "亲，付款后48小时内为您安排发货，请耐心等待哦"
SHIP_48H_SIMILAR = "亲，付款后48小时内就会为您安排发货的哦"
PRESALE = "亲，这款是预售商品，月底统一发货哦"


def chat(conversation_id: str, *texts: str, shop_id: str = "shop-a") -> Conversation:
    """Turns alternate customer, agent, customer, ..."""
    roles = ("customer", "agent")
    turns = tuple(Turn(roles[i % 2], text) for i, text in enumerate(texts))  # type: ignore[arg-type]
    return Conversation(shop_id, turns, conversation_id=conversation_id)


def pairs(*items: tuple[str, str], shop_id: str = "shop-a") -> list[Conversation]:
    return [chat(f"c{i}", q, a, shop_id=shop_id) for i, (q, a) in enumerate(items)]


SHOP_A = [
    *pairs(
        ("什么时候发货", SHIP_48H),
        ("多久能发货", SHIP_48H),
        ("几天发货啊", SHIP_48H),
        ("啥时候发货", SHIP_48H),
        ("什么时候发货呀", SHIP_48H_SIMILAR),
        ("发货要多久", SHIP_48H_SIMILAR),
        ("这个什么时候能发货", PRESALE),
        ("保温杯能装开水吗", "可以的亲，内胆是316不锈钢，装开水没问题"),
        ("杯子漏水怎么办", "亲，麻烦拍一下漏水的位置，我们给您补发密封圈"),
        ("我的订单231111-123456789012345到哪了", "亲，订单231111-123456789012345已经在派送中了"),
    ),
    chat(
        "addr",
        "能改地址吗",
        "可以的亲，改好后会短信通知您",
        "好的",
        "亲，地址已经帮您修改好了，请留意短信哦",
    ),
    chat(
        "pay",
        "今天能发货吗",
        "亲，16点前付款今天就能发出哦",
        "好的",
        "好的亲，那您尽快付款，我们马上安排发货",
    ),
]
SHOP_B = pairs(
    ("什么时候发货", "您好，快递网点每天17点统一揽收发出"),
    ("快递丢了怎么办", "您好，我们马上为您登记问题件并发起理赔"),
    shop_id="shop-b",
)


@pytest.fixture()
def bank(redis_client: redis.Redis, embedder: Embedder) -> ResponseBank:
    return ResponseBank(redis_client, embedder)


def texts(hits: Sequence[object]) -> list[str]:
    return [hit.text for hit in hits]  # type: ignore[attr-defined]


# --- cleaning and dropping -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("[订单x]已经发货了，[姓名x]您好", "{订单号}已经发货了，{姓名}您好"),
        ("USERID_10480447 补您[数字x]元差价 #E-s[数字x]", "补您{金额}差价"),
        ("辽宁[地址x]  [电话x]", "{地址} {手机号}"),
        ("电话13812345678，收件人张伟", "电话{手机号}，收件人{姓名}"),
        ("订单号231111-123456789012345 快递单号SF1234567890123", "订单号{订单号} 快递单号{运单号}"),
        ("身份证110101199003071234", "身份证{身份证号}"),
        ("收货地址改成浙江省杭州市西湖区文三路138号东软大厦5楼", "收货地址改成{地址}"),
        ("麻烦发到杭州市西湖区文三路12号吧", "麻烦发到{地址}吧"),
        ("王先生您好，请查收邮件 me@example.com", "{姓名}先生您好，请查收邮件 {邮箱}"),
        ("亲，48小时内发货哦", "亲，48小时内发货哦"),  # plain facts stay
    ],
)
def test_cleaning_turns_placeholders_and_personal_data_into_slots(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_dropping_rules_and_their_counts() -> None:
    keep = ["亲，付款后48小时内发货哦", "欢迎光临暖杯家居专营店，有什么可以帮您"]
    drop = {
        "亲，隔壁的保温杯旗舰店更便宜": "other_shop",
        "暖阳衣橱那边也有卖的": "other_shop",
        "您可以去淘宝搜一下同款": "other_shop",
        "这款现在只要¥59": "price",
        "满199减20的活动还在的": "price",
        "两个一共178元哦亲": "price",
        "加我微信发你优惠券": "off_platform",
        "亲可以QQ联系我哦": "off_platform",
        "我们用支付宝转账给您退": "off_platform",
        "链接在这里 https://x.cn/a": "link",
        "嗯": "too_short",
        "好的": "too_short",
        "[订单x]": "placeholder_only",
        "亲" * 301: "too_long",
    }
    conversations = pairs(*((f"问题{i}", reply) for i, reply in enumerate([*keep, *drop])))
    proactive = (Turn("agent", "亲，在吗～您拍下的宝贝还没付款哦"),)  # no customer message
    conversations.append(Conversation("shop-a", proactive, conversation_id="p"))
    names = ShopNames(own=("暖杯家居专营店",), others=("暖阳衣橱",), platform="pinduoduo")
    replies, report = mine(conversations, names=names)
    assert sorted(r.text for r in replies) == sorted(keep)
    expected: dict[str, int] = {"no_message": 1}
    for reason in drop.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert dict(report.dropped) == expected
    assert (report.conversations, report.pairs, report.replies) == (17, 17, 2)


def test_near_duplicates_merge_keeping_count_and_most_frequent_wording() -> None:
    conversations = pairs(
        ("什么时候发货", SHIP_48H),
        ("多久发货", SHIP_48H),
        ("发货时间", SHIP_48H + "~"),  # punctuation only: the same reply
        ("几天能发", "亲 付款后48小时内为您安排发货 请耐心等待哦"),
        ("啥时候发", "亲，付款后48小时内为您安排发货，请您耐心等待哦"),  # near-duplicate
        ("预售吗", PRESALE),
    )
    replies, report = mine(conversations)
    assert [(r.text, r.count) for r in replies] == [(SHIP_48H, 5), (PRESALE, 1)]
    assert replies[0].id == reply_id(SHIP_48H) == reply_id(SHIP_48H + "！")
    assert report.merged == 4
    assert [e.message for e in replies[0].examples][:2] == ["什么时候发货", "多久发货"]
    strict, _ = mine(conversations, config=HistoryConfig(merge_jaccard=0.95))
    assert [r.count for r in strict] == [4, 1, 1]  # the near-duplicate stays apart


def test_examples_are_capped_and_intents_come_from_the_labels() -> None:
    conversations = pairs(*((q, SHIP_48H) for q in ("a发货", "b发货", "c发货", "a发货")))
    labels = {("c0", 0): {"intent": "shipping_time"}, ("c1", 0): {"intent": "shipping_time"}}
    labels[("c2", 0)] = {"intent": "urge_delivery"}
    (reply,), _ = mine(conversations, labels=labels, config=HistoryConfig(max_examples=2))
    assert [(e.message, e.count) for e in reply.examples] == [("a发货", 2), ("b发货", 1)]
    assert reply.intents == {"shipping_time": 2, "urge_delivery": 1}


def test_an_example_knows_the_agent_turn_it_answers() -> None:
    context = (("customer", "能改地址吗"), ("agent", "可以的亲"), ("agent", "改好后会短信通知您"))
    assert Example("好的", context).agent_turn == "可以的亲，改好后会短信通知您"
    assert (
        Example("好的", (*context, ("customer", "改成杭州"))).agent_turn
        == "可以的亲，改好后会短信通知您"
    )
    assert Example("在吗").agent_turn == ""  # the chat's first message


def _brute_force_merge(keys: list[str], counts: list[int], threshold: float) -> list[set[str]]:
    order = sorted(range(len(keys)), key=lambda i: (-counts[i], len(keys[i]), keys[i]))
    clusters: list[tuple[frozenset[str], set[str]]] = []
    for i in order:
        own = bigrams(keys[i])
        for grams, members in clusters:
            if len(own & grams) >= threshold * len(own | grams):
                members.add(keys[i])
                break
        else:
            clusters.append((own, {keys[i]}))
    return [members for _, members in clusters]


def test_prefix_filtered_merging_matches_brute_force() -> None:
    rng = random.Random(7)
    alphabet = "发货快递退款换货尺码颜色质量包装物流客服亲您好的吗呢"
    bases = ["".join(rng.choices(alphabet, k=rng.randint(6, 24))) for _ in range(60)]
    keys = set(bases)
    for base in bases:
        for _ in range(4):
            chars = list(base)
            chars[rng.randrange(len(chars))] = rng.choice(alphabet)
            keys.add("".join(chars))
    ordered = sorted(keys)
    counts = [rng.randint(1, 9) for _ in ordered]
    groups = [_Group(k, count=c) for k, c in zip(ordered, counts, strict=True)]
    for group in groups:
        group.wordings[group.key] = group.count
    fast = merge_near_duplicates(groups, 0.7)
    assert sum(g.count for g in fast) == sum(counts)
    expected = _brute_force_merge(ordered, counts, 0.7)
    assert len(fast) == len(expected) < len(ordered)
    assert sorted(g.key for g in fast) == sorted(
        min(m, key=lambda k: (-counts[ordered.index(k)], len(k), k)) for m in expected
    )


# --- the bank --------------------------------------------------------------------------------


def test_import_search_and_stats(bank: ResponseBank) -> None:
    report = bank.import_conversations("shop-a", SHOP_A)
    assert (report.conversations, report.pairs, report.version) == (12, 14, 1)
    assert report.replies == 10 and report.merged == 4 and report.dropped == {}
    stats = bank.stats("shop-a")
    assert (stats.replies, stats.pairs, stats.version) == (10, 14, 1)
    assert stats.embedding_model == bank.embedder.name

    (hit, *_) = bank.search("shop-a", "保温杯可以倒开水吗")
    assert hit.text == "可以的亲，内胆是316不锈钢，装开水没问题"
    assert hit.matched_message == "保温杯能装开水吗" and hit.count == 1

    (hit, *_) = bank.search("shop-a", "我的订单231111-999999999999999到哪了")
    assert hit.text == "亲，订单{订单号}已经在派送中了" and hit.slots == ("{订单号}",)
    assert "123456789012345" not in hit.matched_message


@pytest.mark.slow
def test_hits_below_the_similarity_floor_are_dropped(
    redis_client: redis.Redis, embedder: Embedder
) -> None:
    strict = ResponseBank(redis_client, embedder, HistoryConfig(min_similarity=0.99))
    strict.import_conversations("shop-a", SHOP_A)
    assert texts(strict.search("shop-a", "保温杯能装开水吗")) == [
        "可以的亲，内胆是316不锈钢，装开水没问题"
    ]
    assert strict.search("shop-a", "保温杯可以倒开水吗") == []
    (hit,) = ResponseBank(redis_client, embedder).search("shop-a", "保温杯可以倒开水吗", k=1)
    assert 0.9 <= hit.parts["similarity"] < 0.99


def test_the_relevance_floor_is_calibrated_on_the_bank_itself(bank: ResponseBank) -> None:
    """A question the bank has never seen gets no reply rather than the least unrelated one."""
    bank.import_conversations("shop-a", SHOP_A)
    assert bank.search("shop-a", "你们支持花呗分期付款吗") == []
    assert bank.search("shop-a", "我想开发票，抬头写公司") == []
    (hit, *_) = bank.search("shop-a", "保温杯可以倒开水吗")
    assert hit.text == "可以的亲，内胆是316不锈钢，装开水没问题"


@pytest.mark.parametrize("same_text_cosine", [0.99999994, 1.0, 1.0000001])
def test_the_floor_never_shuts_out_the_question_itself(same_text_cosine: float) -> None:
    """A bank whose examples all say the same: its 'unrelated' pairs are identical texts, whose
    float32 cosine lands on either side of 1.0 depending on the CPU's kernels."""
    from types import SimpleNamespace

    from copilot.history.index import relevance_floor

    pairs_ = np.full(50, same_text_cosine, dtype=np.float32)
    index = SimpleNamespace(pair_similarities=pairs_, unrelated=float(np.median(pairs_)))
    floor = relevance_floor(index, HistoryConfig())  # type: ignore[arg-type]
    # the question's own cosine may land on the low side whatever side its examples did
    assert 0.99 < floor <= float(np.float32(0.99999994))


def test_shops_are_isolated(bank: ResponseBank) -> None:
    bank.import_conversations("shop-a", SHOP_A)
    bank.import_conversations("shop-b", SHOP_B)
    b_replies = {c.turns[1].text for c in SHOP_B}
    a_hits = bank.search("shop-a", "什么时候发货", k=10)
    b_hits = bank.search("shop-b", "什么时候发货", k=10)
    assert a_hits and not set(texts(a_hits)) & b_replies
    assert (
        set(texts(b_hits)) <= b_replies and b_hits[0].text == "您好，快递网点每天17点统一揽收发出"
    )
    assert bank.search("shop-c", "什么时候发货") == []
    assert bank.search("../shop-a", "什么时候发货") == []
    assert sorted(bank.shops()) == ["shop-a", "shop-b"]


def test_reranking_prefers_the_frequent_consensus_reply(
    redis_client: redis.Redis, embedder: Embedder
) -> None:
    bank = ResponseBank(redis_client, embedder, HistoryConfig(selection="consensus"))
    bank.import_conversations("shop-a", SHOP_A)
    hits = bank.search("shop-a", "这个什么时候能发货", k=3)
    # PRESALE's example is the very question, yet agents said SHIP_48H and its look-alike far
    # more often for the same need: consensus and frequency put it first.
    assert texts(hits)[0] == SHIP_48H
    assert (
        hits[0].parts["consensus"]
        > dict(zip(texts(hits), hits, strict=True))[PRESALE].parts["consensus"]
    )
    fit_only = HistoryConfig(
        consensus_weight=0, count_weight=0, context_weight=0, selection="score"
    )
    plain = ResponseBank(redis_client, embedder, fit_only).search("shop-a", "这个什么时候能发货")
    assert texts(plain)[0] == PRESALE


@pytest.mark.slow
def test_neighbours_offer_what_agents_said_in_that_situation(bank: ResponseBank) -> None:
    bank.import_conversations("shop-a", SHOP_A)
    hits = bank.search("shop-a", "这个什么时候能发货", k=3)
    # Six shipping questions voted for SHIP_48H or its look-alike, one for PRESALE: the
    # majority first, the look-alike never (it wins no vote SHIP_48H has not won), the
    # minority's answer still offered.
    assert texts(hits)[:2] == [SHIP_48H, PRESALE]
    assert SHIP_48H_SIMILAR not in texts(hits)
    assert hits[0].score > hits[1].score > 0 and hits[0].parts["votes"] > hits[1].parts["votes"]
    # A question about something else is answered by its own example, not by the majority.
    (hit, *_) = bank.search("shop-a", "杯子漏水了怎么处理")
    assert hit.text == "亲，麻烦拍一下漏水的位置，我们给您补发密封圈"


def test_a_bank_stored_before_agent_turn_vectors_still_answers(
    bank: ResponseBank, redis_client: redis.Redis
) -> None:
    bank.import_conversations("shop-a", SHOP_A)
    before = texts(bank.search("shop-a", "保温杯可以倒开水吗"))
    assert redis_client.hlen("hist:shop-a:agent_vectors") == redis_client.hlen(
        "hist:shop-a:vectors"
    )
    redis_client.delete("hist:shop-a:agent_vectors")
    redis_client.incr("hist:shop-a:version")  # another process's index is rebuilt
    after = bank.search("shop-a", "保温杯可以倒开水吗")
    assert texts(after)[0] == before[0] == "可以的亲，内胆是316不锈钢，装开水没问题"


def test_recent_context_decides_what_a_bare_follow_up_means(bank: ResponseBank) -> None:
    bank.import_conversations("shop-a", SHOP_A)
    address = [Turn("customer", "能改地址吗"), Turn("agent", "可以的亲，改好后会短信通知您")]
    paying = [Turn("customer", "今天能发货吗"), Turn("agent", "亲，16点前付款今天就能发出哦")]
    assert (
        bank.search("shop-a", "好的", address)[0].text == "亲，地址已经帮您修改好了，请留意短信哦"
    )
    assert bank.search("shop-a", "好的", paying)[0].text == "好的亲，那您尽快付款，我们马上安排发货"


def test_the_classified_intent_is_a_tie_breaker(bank: ResponseBank) -> None:
    conversations = pairs(
        ("在吗", "在的亲，请问有什么可以帮您"), ("在吗", "在的，您的快递已经到驿站了")
    )
    labels = {("c1", 0): {"intent": "logistics_tracking"}, ("c0", 0): {"intent": "greeting"}}
    bank.import_conversations("shop-a", conversations, labels=labels)
    for intent, expected in (("greeting", "在的亲"), ("logistics_tracking", "在的，您的快递")):
        (hit, *_) = bank.search("shop-a", "在吗", intent=intent)
        assert hit.text.startswith(expected) and hit.intents == (intent,)


class BrokenEmbedder:
    """The real model until it is told to fail, like a backend that dies mid-import."""

    def __init__(self, real: Embedder) -> None:
        self.real = real
        self.broken = False

    @property
    def name(self) -> str:
        return self.real.name

    def embed_batch(self, texts: Sequence[str], *, role: Role) -> Vectors:
        if self.broken:
            raise RuntimeError("the embedding backend died")
        return self.real.embed_batch(texts, role=role)


def test_a_failed_import_changes_nothing(redis_client: redis.Redis, embedder: Embedder) -> None:
    flaky = BrokenEmbedder(embedder)
    bank = ResponseBank(redis_client, flaky)
    bank.import_conversations("shop-a", SHOP_A)
    before = (bank.stats("shop-a"), bank.search("shop-a", "几天能发货"))
    flaky.broken = True
    with pytest.raises(CopilotError, match="embedding the history bank failed"):
        bank.import_conversations("shop-a", SHOP_B)
    flaky.broken = False
    with pytest.raises(HistoryImportError, match="no usable replies among 2 pairs"):
        bank.import_conversations("shop-a", pairs(("在吗", "嗯"), ("好", "[订单x]")))
    with pytest.raises(HistoryImportError, match="shop id"):
        bank.import_conversations("Shop A", SHOP_A)
    assert (bank.stats("shop-a"), bank.search("shop-a", "几天能发货")) == before


def test_an_import_by_another_process_is_seen_at_the_next_search(
    redis_client: redis.Redis, embedder: Embedder
) -> None:
    writer, reader = ResponseBank(redis_client, embedder), ResponseBank(redis_client, embedder)
    writer.import_conversations("shop-a", SHOP_A)
    lost = "您好，我们马上为您登记问题件并发起理赔"
    assert lost not in texts(reader.search("shop-a", "快递丢了怎么办"))
    writer.import_conversations("shop-a", SHOP_B)  # replaces the bank
    assert reader.search("shop-a", "快递丢了怎么办")[0].text == lost
    assert reader.stats("shop-a").version == 2 and reader.builds == 2


@pytest.mark.slow
@pytest.mark.skipif(not JDDC_SAMPLE.exists(), reason=f"JDDC sample not present at {JDDC_SAMPLE}")
def test_jddc_sample_smoke(bank: ResponseBank) -> None:
    log, report = bank.import_file(
        "jd-sample", JDDC_SAMPLE, names=ShopNames(own=("京东",), platform="jd")
    )
    assert log.skipped == [] and report.conversations == 994
    assert report.replies > 3000 and report.merged > 500
    assert report.dropped["too_short"] > 100 and report.dropped["link"] > 10
    hits = bank.search("jd-sample", "什么时候发货")
    assert len(hits) == 3
    assert any("发货" in hit.matched_message for hit in hits)
    for hit in hits:
        assert "x]" not in hit.text and "USERID" not in hit.text and "#E" not in hit.text
        assert normalized_key(hit.text) and hit.score > 0


def test_consensus_offers_what_the_pool_agrees_on() -> None:
    from copilot.history.index import Scored, consensus_pick
    from copilot.history.mining import MinedReply
    from copilot.text.similarity import bigrams, normalized_key

    def scored(text: str, count: int, score: float) -> Scored:
        grams = bigrams(normalized_key(text))
        return Scored(MinedReply(f"h-{text}", text, count, []), score, 0, {}, grams)

    pool = [
        scored("亲，这款是预售商品，月底发货哦", 1, 3.0),  # the best fit, said once
        scored("亲，付款后48小时内为您发货哦", 30, 2.5),
        scored("亲，付款后48小时内就会发货的", 12, 2.4),  # the same answer in other words
        scored("亲，付款后48小时内安排发货", 9, 2.3),
        scored("亲，16点前付款今天就能发出哦", 4, 2.2),
        scored("亲，仓库今天放假", 1, 2.1),
    ]
    picked = [s.reply.text for s in consensus_pick(pool, 3, pool=12)]
    assert picked[0] == "亲，付款后48小时内为您发货哦"  # what most of the pool says, most often
    assert len(set(picked)) == 3 and "亲，仓库今天放假" not in picked  # an outlier said once
    assert consensus_pick(pool, 3, pool=2) == pool[:2][::-1]  # only the best two compete
    assert consensus_pick([], 3, pool=12) == []

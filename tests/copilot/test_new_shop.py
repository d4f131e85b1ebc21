"""A shop the copilot has never seen, from its trainer's own workbook alone (no intents, no
history bank, no tuning): a tea shop, nothing like cups, clothes or parcels. Real embedder,
Redis, FAISS and classifier."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from backends import KB_BRINGS_ITS_EMBEDDER
from dates import TEST_TODAY

from copilot.build import PipelineConfig, build_suggester
from copilot.clock import FixedClock
from copilot.pipeline import Suggester, SuggesterConfig
from copilot.policies import PolicyStore
from copilot.templates import HOLDING_AFTER_PURCHASE, templates
from copilot.types import Conversation, Order, OrderItem, ShopPolicy, Suggestion, Turn
from kb.knowledge import KnowledgeBase

SHOP = "tea-shop"
PRODUCTS = [
    ["茗香居 在售茶叶清单（新人必看）", None, None, None, None],
    ["货号", "品名", "规格", "日常价", "保质期"],
    ["T-01", "明前龙井 特级", "100g / 250g", "100g ¥168\n250g ¥398", "18个月"],
    ["T-02", "正山小种红茶 一级", "200g", "¥89", "36个月"],
    ["T-03", "白毫银针 礼盒装", "150g", "299元", "60个月"],
]
FAQS = [
    ["常见问题（客服统一口径）", None, None],
    ["序号", "客户问", "怎么回"],
    ["【茶叶】", None, None],
    ["1", "龙井是今年的新茶吗？", "亲，明前龙井是今年3月底采摘的新茶，真空锡纸分装，保证新鲜～"],
    ["2", "红茶怎么泡好喝？", "亲，正山小种用95℃左右的水，第一泡10秒出汤，之后每泡加5秒就好～"],
    ["3", "茶叶怎么保存？", "亲，密封避光放阴凉处，龙井开封后建议放冰箱冷藏，一个月内喝完～"],
    ["4", "可以开发票吗？", "亲，可以开电子普通发票，下单后在订单详情申请即可～"],
    ["5", "白茶能放多久？", "亲，白茶越陈越香，密封干燥保存可以存放多年，我们标的保质期是5年～"],
    ["6", "有小样送吗？", "亲，每单都会随机送一份5g试饮装哦～"],
    ["7", "发什么快递？", "亲，默认顺丰，下单后48小时内发货～"],
    ["8", "礼盒有手提袋吗？", "亲，礼盒都配手提袋，需要贺卡可以在下单备注里写祝福语～"],
]
SCRIPTS = [["场景", "话术"], ["进店欢迎", "亲，欢迎光临茗香居～我是客服小茗，想喝点什么茶呀？"]]


def workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in (("商品", PRODUCTS), ("常见问题", FAQS), ("话术", SCRIPTS)):
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


@pytest.fixture()
def tea(kb: KnowledgeBase, tmp_path: Path) -> Suggester:
    kb.import_files(SHOP, [workbook(tmp_path / "茗香居.xlsx")])
    PolicyStore(kb.store.client).put(ShopPolicy(SHOP, shop_name="茗香居茶叶旗舰店"))
    config = PipelineConfig(embedder_dir=KB_BRINGS_ITS_EMBEDDER, clock=FixedClock.on(TEST_TODAY))
    suggester = build_suggester(config, kb)
    suggester.config = SuggesterConfig(use_llm=False)
    return suggester


def ask(suggester: Suggester, *texts: str) -> Suggestion:
    turns = tuple(Turn("customer" if i % 2 == 0 else "agent", t) for i, t in enumerate(texts))  # type: ignore[arg-type]
    return suggester.suggest(Conversation(SHOP, turns), use_llm=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("龙井是新茶不", "今年3月底采摘的新茶"),
        ("小种红茶咋泡啊 水温多少", "95℃"),
        ("茶叶买回来怎么放", "密封避光"),
        ("能开票吗 公司报销", "电子普通发票"),
        ("银针能存几年", "60个月"),
    ],
)
def test_plain_pre_sales_questions_get_the_shops_answer_and_stay_with_the_agent(
    tea: Suggester, message: str, answer: str
) -> None:
    out = ask(tea, message)
    assert any(answer in c.text for c in out.candidates), [c.text for c in out.candidates]
    assert out.route.action != "handoff", out.route


@pytest.mark.slow
def test_an_faq_both_retrievers_rank_first_is_offered_whatever_the_lexical_overlap(
    tea: Suggester,
) -> None:
    message = "能送点试喝装吗 想先尝尝"  # shares almost no characters with 有小样送吗？
    top = tea.kb.search(SHOP, message, k=3)[0]
    assert top.entry_id.startswith("faq-") and getattr(top.entry, "question", "") == "有小样送吗？"
    assert {s.rank for s in top.retrievers.values()} == {1}  # the premise: both agree
    out = ask(tea, message)
    assert "亲，每单都会随机送一份5g试饮装哦～" in [c.text for c in out.candidates]


def test_a_greeting_gets_the_shops_own_welcome_script(tea: Suggester) -> None:
    out = ask(tea, "在吗")
    assert out.candidates[0].text == "亲，欢迎光临茗香居～我是客服小茗，想喝点什么茶呀？"


def test_a_pre_sales_worry_never_gets_an_after_sales_apology(tea: Suggester) -> None:
    out = ask(tea, "礼盒会不会压坏啊 送长辈的")
    assert out.candidates
    assert not any("抱歉" in c.text or "照片" in c.text for c in out.candidates)


def test_when_nothing_fits_the_next_step_is_offered_not_nothing(tea: Suggester) -> None:
    out = ask(tea, "我买的茶到哪了 三天了")
    assert [c.text for c in out.candidates] == [
        "亲，麻烦提供一下订单号，这边马上帮您查询物流进度～",
        HOLDING_AFTER_PURCHASE,
    ]


def test_two_questions_in_one_message_get_one_reply_with_both_answers(tea: Suggester) -> None:
    first = ask(tea, "龙井是今年的新茶吗 买回来怎么保存").candidates[0].text
    assert "3月底" in first and "密封避光" in first, first


def test_a_new_number_for_an_order_not_shipped_is_noted_first(tea: Suggester) -> None:
    paid = Order("paid", (OrderItem("T-01"),))
    chat = Conversation(SHOP, (Turn("customer", "手机号填错了 最后一位是8不是6"),), paid)
    out = tea.suggest(chat, use_llm=False)
    assert out.candidates[0].text == templates()["change_phone:given"], out.intent

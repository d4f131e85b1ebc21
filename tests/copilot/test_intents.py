"""Intent taxonomy, example files, rules and the classifier on a real embedded Redis; the
classifier on the HashEmbedder, or on the real e5 in the tests marked slow (what it gets right). The held-out regression guard reads bench/data/intent_labelled.jsonl."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import redis
from backends import pick

from copilot.errors import CopilotError, IntentDataError
from copilot.intents.classifier import IntentClassifier, default_classifier, isotonic_fit
from copilot.intents.examples import (
    IntentExampleStore,
    LabelledExample,
    load_examples,
    train_from_file,
)
from copilot.intents.rules import (
    INTENTS,
    family_of,
    is_acknowledgement,
    match_rules,
    normalize,
    slot_kind,
    split_turns,
    without_leading_ack,
)
from copilot.types import Conversation, Turn
from kb.models.embedder import Embedder

REPO = Path(__file__).resolve().parents[2]
HELD_OUT = REPO / "bench" / "data" / "intent_labelled.jsonl"


@pytest.fixture()
def classifier(request: pytest.FixtureRequest, backend: str) -> IntentClassifier:
    return pick(request, backend, real="real_classifier", fake="hash_classifier")


@pytest.fixture(scope="module")
def real_classifier(onnx_embedder: Embedder) -> IntentClassifier:
    return _warm(default_classifier(onnx_embedder))


@pytest.fixture(scope="module")
def hash_classifier(hash_embedder: Embedder) -> IntentClassifier:
    return _warm(default_classifier(hash_embedder))


def _warm(model: IntentClassifier) -> IntentClassifier:
    model.warm_up()
    return model


def chat(*turns: tuple[str, str], shop_id: str = "shop-a") -> Conversation:
    return Conversation(shop_id, tuple(Turn(role, text) for role, text in turns))  # type: ignore[arg-type]


def ask(text: str, shop_id: str = "shop-a") -> Conversation:
    return chat(("customer", text), shop_id=shop_id)


# ---------------------------------------------------------------- taxonomy and rules


def test_taxonomy_has_the_five_families_and_every_label_documented() -> None:
    families = {info.family for info in INTENTS.values()}
    assert families == {"pre_sales", "in_sales", "after_sales", "express", "general"}
    assert len(INTENTS) == 27
    assert family_of("refund_status") == "after_sales"
    assert family_of("work_order") == "express"
    import copilot.intents.classifier

    doc = copilot.intents.classifier.__doc__ or ""
    assert all(label in doc for label in INTENTS)


def test_rules_match_homophone_typos_and_pinyin_but_not_negations() -> None:
    def names(text: str) -> set[str]:
        return {rule.name for rule in match_rules(text)}

    assert "退货" in names("退或怎么弄")  # 退或 sounds like 退货
    assert "退货" in names("tuihuo 可以吗")
    assert "退货" not in names("可以换货不退货吗")
    assert "换货" in names("可以换货不退货吗")
    assert "工单" in names("投诉工单结果出来了吗") and "投诉" in names("投诉工单结果出来了吗")


def test_normalize_turns_anonymisation_markup_into_plain_stand_ins() -> None:
    assert normalize("#E-s<num>#E-s<num> 退了<num>天") == "退了1天"
    assert normalize("<url> 壶类---收货后疑问解答") == "链接"
    assert normalize("[金额x]  能退吗") == "1元 能退吗"


def test_turn_cues() -> None:
    assert is_acknowledgement("嗯嗯 好的～") and not is_acknowledgement("好的 谢谢")
    assert without_leading_ack("好的 寄回地址是哪") == "寄回地址是哪"
    assert without_leading_ack("好多天了已经") == "好多天了已经"
    assert slot_kind("北京市朝阳区建国路100号5栋301") == "address"
    assert slot_kind("139 0000 1234") == "phone"
    assert slot_kind("SF1234567890123") == "tracking"
    assert slot_kind("[图片]") == "photo"
    assert slot_kind("地址能改吗") is None
    turns = (
        Turn("customer", "我想改地址"),
        Turn("agent", "好的"),
        Turn("agent", "请提供新地址"),
        Turn("customer", "稍等"),
        Turn("customer", "上海市"),
    )
    assert split_turns(turns) == ("稍等，上海市", "好的，请提供新地址", "我想改地址")
    assert split_turns((Turn("customer", "在吗"),)) == ("在吗", "", "")


# ---------------------------------------------------------------- labelled example files


def test_load_examples_reads_jsonl_and_chinese_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "ok.jsonl"
    jsonl.write_text('{"text": "直播间口令怎么用", "label": "price_promotion"}\n\n', "utf-8")
    assert load_examples(jsonl) == [LabelledExample("直播间口令怎么用", "price_promotion")]
    table = tmp_path / "ok.csv"
    table.write_text("文本,意图\n杯子漏水了,damaged_item\n怎么开发票,other\n", "utf-8-sig")
    assert [e.label for e in load_examples(table)] == ["damaged_item", "other"]
    excel = tmp_path / "excel.csv"  # what Chinese Excel saves: GBK
    excel.write_bytes("文本,意图\n杯子漏水了,damaged_item\n".encode("gbk"))
    assert load_examples(excel) == [LabelledExample("杯子漏水了", "damaged_item")]


def test_bad_example_files_name_the_file_and_every_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "在吗", "label": "greeting"}\n'
        '{"text": "少了一个杯套", "label": "missing_item"\n'  # line 2: broken JSON
        '{"text": "退款呢", "label": "refund_progress"}\n'  # line 3: unknown label
        '{"text": "  ", "label": "thanks"}\n',  # line 4: empty text
        "utf-8",
    )
    with pytest.raises(IntentDataError) as caught:
        load_examples(bad)
    assert [(e.file, e.line) for e in caught.value.errors] == [
        ("bad.jsonl", 2),
        ("bad.jsonl", 3),
        ("bad.jsonl", 4),
    ]
    assert "refund_progress" in str(caught.value) and "bad.jsonl, line 3" in str(caught.value)
    assert isinstance(caught.value, CopilotError)

    headless = tmp_path / "headless.csv"
    headless.write_text("杯子漏水了,damaged_item\n", "utf-8")
    with pytest.raises(IntentDataError, match=r"headless\.csv, line 1"):
        load_examples(headless)
    with pytest.raises(IntentDataError, match=r"missing\.jsonl"):
        load_examples(tmp_path / "missing.jsonl")


def test_example_store_keeps_global_and_shop_examples_apart(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    store = IntentExampleStore(redis_client)
    store.add(None, [LabelledExample("开票", "other")])
    store.add("shop-a", [LabelledExample("口令", "price_promotion")])
    store.add("shop-a", [LabelledExample("口令", "other")])  # relabels
    assert store.all(None) == [LabelledExample("开票", "other")]
    assert store.all("shop-a") == [LabelledExample("口令", "other")]
    assert store.all("shop-b") == []
    assert store.shops() == ["shop-a"]

    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n好评返现,cashback\n", "utf-8")
    with pytest.raises(IntentDataError):
        train_from_file(store, bad, "shop-b")
    assert store.shops() == ["shop-a"]  # nothing stored from a bad file
    good = tmp_path / "good.csv"
    good.write_text("text,label\n好评返现怎么领,price_promotion\n", "utf-8")
    assert train_from_file(store, good, "shop-b") == 1
    assert store.all("shop-b") == [LabelledExample("好评返现怎么领", "price_promotion")]


def test_classifier_rejects_unknown_labels(embedder: Embedder) -> None:
    with pytest.raises(IntentDataError, match="nonsense"):
        IntentClassifier(embedder, [LabelledExample("你好", "nonsense")])


# ---------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("身高158体重95斤 拿S码还是M码", "spec_size"),
        ("白色还有货吗 想要L的", "stock"),
        ("现在下单有什么优惠活动吗", "price_promotion"),
        ("快递到哪了 三天都没更新物流", "logistics_tracking"),
        ("下单时地址填错了 帮我改一下地址", "change_address"),
        ("急用 麻烦快点发货", "urge_delivery"),
        ("衣服不合适 我想退货", "return"),
        ("收到的杯子盖子裂了", "damaged_item"),
        ("退款申请好几天了 钱什么时候到账", "refund_status"),
        ("我的快件显示派送失败 是问题件吗", "problem_parcel"),
        ("提交的工单有进展了吗", "work_order"),
        ("包裹丢了 保价的能理赔多少", "arbitration_claim"),
        ("亲 在吗", "greeting"),
        ("好的 谢谢啦", "thanks"),
        ("转人工客服", "ask_human"),
        ("再不处理我就去12315投诉你们", "complaint"),
    ],
)
def test_each_family_is_classified(classifier: IntentClassifier, text: str, label: str) -> None:
    intent = classifier.classify(ask(text))
    assert intent.label == label, intent
    assert intent.family == INTENTS[label].family


def test_a_bare_ok_after_the_agent_asked_for_the_address_stays_change_address(
    classifier: IntentClassifier,
) -> None:
    asked = chat(
        ("customer", "订单地址写错了"),
        ("agent", "亲，没问题，麻烦提供一下新的收货地址哦"),
        ("customer", "好的"),
    )
    intent = classifier.classify(asked)
    assert intent.label == "change_address"
    assert "context:follow_up" in intent.reasons
    alone = classifier.classify(ask("好的"))
    assert alone.label in {"thanks", "chitchat"}
    done = chat(("customer", "地址写错了"), ("agent", "已经帮您改好地址啦～"), ("customer", "好的"))
    assert classifier.classify(done).label == "thanks"


def test_slot_values_after_the_agent_asked_for_them(classifier: IntentClassifier) -> None:
    address = chat(
        ("agent", "请提供新地址，我帮您修改"), ("customer", "北京市朝阳区建国路100号5栋301")
    )
    assert classifier.classify(address).label == "change_address"
    phone = chat(("agent", "麻烦提供新的手机号"), ("customer", "13900001234"))
    assert classifier.classify(phone).label == "change_phone"


def test_a_leading_ok_does_not_hide_the_question(classifier: IntentClassifier) -> None:
    assert classifier.classify(ask("好的 那退款多久能到账")).label == "refund_status"


def test_shop_examples_change_the_result_for_that_shop_only(classifier: IntentClassifier) -> None:
    jargon = "芝麻开门暗号"
    before = classifier.classify(ask(jargon, "shop-jargon")).label
    assert before != "price_promotion"
    classifier.add_examples(
        [
            LabelledExample("芝麻开门暗号", "price_promotion"),
            LabelledExample("报暗号芝麻开门", "price_promotion"),
        ],
        shop_id="shop-jargon",
    )
    assert classifier.classify(ask(jargon, "shop-jargon")).label == "price_promotion"
    assert classifier.classify(ask(jargon, "shop-other")).label == before


def test_stored_shop_examples_reach_a_new_classifier(
    embedder: Embedder, redis_client: redis.Redis, tmp_path: Path
) -> None:
    shipped = tmp_path / "shipped.csv"  # a small stand-in for the shipped examples: fast
    shipped.write_text(
        "text,label\n你好,greeting\n在吗,greeting\n我要退货,return\n不想要了,return\n谢谢,thanks\n",
        "utf-8",
    )
    store = IntentExampleStore(redis_client)
    store.add(
        "shop-live", [LabelledExample("上车上车", "stock"), LabelledExample("我上车了", "stock")]
    )
    model = default_classifier(embedder, store, shipped)
    assert model.classify(ask("上车上车", "shop-live")).label == "stock"
    assert model.classify(ask("上车上车", "shop-other")).label != "stock"


def test_confidence_is_a_probability_and_higher_on_clear_messages(
    classifier: IntentClassifier,
) -> None:
    clear = classifier.classify(ask("怎么申请退货退款"))
    gibberish = classifier.classify(ask("qzx vbn 呜啦啦 kkk"))
    for intent in (clear, gibberish):
        assert 0.0 <= intent.confidence <= 1.0
        assert len(intent.top) == 3
        assert [s.score for s in intent.top] == sorted((s.score for s in intent.top), reverse=True)
        assert intent.top[0].label == intent.label
    assert clear.confidence > gibberish.confidence + 0.2
    assert clear.confidence >= 0.8
    steps = [classifier.confidence(p) for p in np.linspace(0, 1, 21)]
    assert steps == sorted(steps)


def test_isotonic_fit_is_monotone_and_never_certain() -> None:
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    y = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    xs, ys = isotonic_fit(x, y)
    assert list(ys) == sorted(ys)
    assert ys[0] > 0.0 and ys[-1] < 1.0
    assert np.interp(0.9, xs, ys) > np.interp(0.1, xs, ys)


def test_importing_the_intent_modules_loads_no_model_libraries() -> None:
    code = (
        "import sys, copilot.intents.classifier, copilot.sentiment.analyzer; "
        "print([m for m in ('torch', 'snownlp', 'onnxruntime', 'pypinyin') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- held-out quality


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    scores = []
    for label in set(gold):
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        precision = tp / max(1, predicted.count(label))
        recall = tp / gold.count(label)
        scores.append(2 * precision * recall / (precision + recall) if tp else 0.0)
    return sum(scores) / len(scores)


@pytest.mark.slow
def test_held_out_macro_f1_stays_above_the_goal(classifier: IntentClassifier) -> None:
    rows = [json.loads(line) for line in HELD_OUT.read_text("utf-8").splitlines() if line]
    assert len(rows) >= 300
    gold, predicted = [], []
    for row in rows:
        turns = [(t["role"], t["text"]) for t in row.get("context", ())]
        predicted.append(classifier.classify(chat(*turns, ("customer", row["text"]))).label)
        gold.append(row["label"])
    assert macro_f1(gold, predicted) >= 0.85

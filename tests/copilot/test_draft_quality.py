"""Drafts an agent could send: one reply, complete, guarded while it streams, gated by intent.

The scripted model makes each case certain (what it writes is what is tested); the slow tests
run the real 0.5B model on the demo shops, as CI does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from dates import TEST_TODAY

from copilot.guardrails.checks import apply_guardrails
from copilot.llm.backends import LlamaCppGenerator
from copilot.llm.draft_gate import DraftGate, GateFileError
from copilot.llm.draft_text import clean_draft, excerpt, reject_reason, sentences
from copilot.llm.drafting import ChatMessage, DraftConfig, Generator
from copilot.model_setup import drafting_gguf
from copilot.pipeline import Suggester, SuggesterConfig
from copilot.types import Candidate, Conversation, Source, Turn
from kb.knowledge import KnowledgeBase
from service.settings import Settings
from service.wiring import build_knowledge_base, build_suggester, load_demo

DEMO_QUESTIONS = (
    ("demo-pdd", "买两个有优惠吗"),
    ("demo-pdd", "我要退货，杯子漏水"),
    ("demo-pdd", "快递到哪了，三天了还没到"),
    ("demo-pdd", "这个杯子能装开水吗"),
    ("demo-pdd", "保温效果怎么样"),
    ("demo-ks", "什么时候发货"),
    ("demo-ks", "尺码怎么选"),
    ("demo-express", "寄一个箱子到北京多少钱"),
    ("demo-express", "快递丢了怎么办"),
)


class Scripted:
    """A drafting model that writes `text` in pieces of `size` characters and counts calls."""

    def __init__(self, text: str, size: int = 2) -> None:
        self.text, self.size, self.calls, self.produced, self.delay = text, size, 0, 0, 0.0

    @property
    def name(self) -> str:
        return "scripted"

    def stream(
        self, messages: Sequence[ChatMessage], *, max_tokens: int, temperature: float,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:  # fmt: skip
        self.calls += 1
        for i in range(0, len(self.text), self.size):
            time.sleep(self.delay)
            self.produced = i + self.size
            yield self.text[i : i + self.size]


@pytest.fixture(scope="module")
def demo(
    models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, KnowledgeBase]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("drafts"), models_dir=models_dir, llm_backend="none"
    )
    knowledge = build_knowledge_base(settings)
    load_demo(knowledge, today=TEST_TODAY)
    return settings, knowledge


@pytest.fixture(scope="module")
def base(demo: tuple[Settings, KnowledgeBase]) -> Suggester:
    built = build_suggester(*demo)
    built.warm_up()
    return built


def with_model(
    base: Suggester, generator: Generator, gate: DraftGate | None = None, patient: bool = False
) -> Suggester:
    draft = DraftConfig(gate=gate or DraftGate())
    if patient:  # a loaded CI machine: these tests are about what is drafted, not how fast
        draft = DraftConfig(gate=draft.gate, first_token_timeout=60, total_timeout=120)
    return Suggester(
        base.kb, base.classifier, policies=base.policies, clock=base.clock, history=base.history,
        generator=generator, shop_names=base.shop_names, config=SuggesterConfig(draft=draft),
    )  # fmt: skip


def ask(shop: str, text: str) -> Conversation:
    return Conversation(shop, (Turn("customer", text),))


def guardrails_pass(suggester: Suggester, shop: str, text: str) -> bool:
    """The final guardrails' verdict on text, as the pipeline's last check gives it."""
    facts = suggester.facts.shop_facts(shop)
    checked = apply_guardrails(
        [Candidate(text, "answer", Source(llm=True), 0.0)], shop_id=shop, kb_facts=facts,
        order=None, policy=suggester.policies.get(shop), other_shops=suggester.facts.other_shops(shop),
        day=TEST_TODAY,
    )  # fmt: skip
    return bool(checked)


# --- text checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draft", "reason"),
    [
        ("亲，现在全店满99减10……", "cut"),
        ("亲，全店满99减10哦。亲，店里活动有全店满99减10。", "glued"),
        ("亲，满99减10。您好，退货请在订单页申请。", "glued"),
        ("亲，请只用资料里回答这句话的内容哦。", "prompt_echo"),
        ("亲，满99减20哦。", "unsupported_number"),
        ("亲，满99减10，保证您用得放心。", "promise"),  # the material promises nothing
        ("亲，满99减10，杯子不会漏哦。", "promise"),
        ("亲，满99减10，下单自动减哦。", None),
    ],
)
def test_draft_checks_name_what_is_wrong(draft: str, reason: str | None) -> None:
    found = reject_reason(
        draft, ["亲，全店满99减10，下单自动减。"], prompt_text="请只用资料里回答这句话的内容"
    )
    assert (found[0] if found else None) == reason


def test_clean_draft_keeps_at_most_three_whole_sentences() -> None:
    raw = "亲，可以的。预热一下更好。喝完及时清洗。不建议装牛奶。"
    assert sentences(clean_draft(raw)) == ["亲，可以的。", "预热一下更好。", "喝完及时清洗。"]


def test_excerpt_never_adds_an_ellipsis() -> None:
    text = "亲，这款杯子是316不锈钢内胆，装开水没问题，" * 10
    cut = excerpt(text, "能装开水吗", 60)
    assert len(cut) <= 60 and "…" not in cut and cut.endswith("。")


def test_gate_file_names_the_intents_drafted(tmp_path: Path) -> None:
    path = tmp_path / "draft_gate.json"
    path.write_text('{"shown": ["product_question"], "measured": {}}', encoding="utf-8")
    gate = DraftGate.load(path)
    assert not gate.holds_back("product_question") and gate.holds_back("logistics")
    assert not DraftGate().holds_back("logistics")  # no measurement given: drafted everywhere
    path.write_text('{"held": []}', encoding="utf-8")
    with pytest.raises(GateFileError):
        DraftGate.load(path)


def test_the_service_drafts_where_the_packaged_measurement_says_unless_told_otherwise() -> None:
    import json

    from copilot.llm.draft_gate import MEASURED

    measured = json.loads(MEASURED.read_text(encoding="utf-8"))
    gate = Settings().draft_config().gate
    assert gate.shown == frozenset(measured["shown"])  # the default: what the grades support
    assert measured["pooled"]["draft"]["graded"] > 0  # it rests on judged drafts
    assert gate.holds_back_all == (not measured["shown"])
    for everywhere in ("everywhere", ""):
        assert Settings(llm_gate_file=everywhere).draft_config().gate.shown is None


# --- the pipeline, scripted model ---------------------------------------------------------


@pytest.mark.slow  # the demo shops on the real embedder
def test_a_blocked_clause_never_reaches_the_stream(base: Suggester) -> None:
    off_platform = "亲，装满沸水盖紧，6小时后还在70℃以上哦，有问题加我微信abc123，我给您退差价。"
    shown: list[str] = []
    out = with_model(base, Scripted(off_platform)).suggest(
        ask("demo-pdd", "保温效果怎么样"), on_token=shown.append
    )
    streamed = "".join(shown)
    assert "微信" not in streamed and "abc123" not in streamed
    assert streamed and off_platform.startswith(streamed)  # the clean clause was shown
    assert guardrails_pass(base, "demo-pdd", streamed)
    assert not any(c.source.llm for c in out.candidates)
    assert "llm_rejected:blocked" in out.degraded


@pytest.mark.slow  # the demo shops on the real embedder
def test_a_cut_or_glued_draft_is_dropped_and_said_so(base: Suggester) -> None:
    question = ask("demo-pdd", "保温杯能装开水吗")
    for text, reason in (
        ("亲，可以直接装开水的哦，装之前预热……", "cut"),
        ("亲，可以直接装开水的哦。亲，可以直接装开水的哦。", "glued"),
    ):
        out = with_model(base, Scripted(text)).suggest(question)
        assert f"llm_rejected:{reason}" in out.degraded
        assert not any(c.source.llm for c in out.candidates)


@pytest.mark.slow  # the demo shops on the real embedder
def test_the_gate_holds_a_draft_back_without_asking_the_model(base: Suggester) -> None:
    question = ask("demo-pdd", "保温杯能装开水吗")
    intent = base.classifier.classify(question).label
    model = Scripted("亲，可以直接装开水的哦。")
    held = with_model(base, model, DraftGate(frozenset({"not-" + intent}))).suggest(question)
    assert "llm_held_back" in held.degraded and model.calls == 0
    assert not any(c.source.llm for c in held.candidates)
    shown = with_model(base, model, DraftGate(frozenset({intent}))).suggest(question)
    assert "llm_held_back" not in shown.degraded and model.calls == 1


class Prefilling(Scripted):
    """A scripted model that can also evaluate the next prompt's start ahead of time, and
    says whether it was loaded."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.prefills = 0
        self.loaded = False

    def prefill(self, messages: Sequence[ChatMessage]) -> int:
        self.prefills += 1
        return 1

    def warm_up(self) -> None:
        self.loaded = True


@pytest.mark.slow  # the demo shops on the real embedder
def test_a_gate_that_holds_every_draft_back_prepares_no_prompt(base: Suggester) -> None:
    chat = Conversation("demo-pdd", (Turn("customer", "在吗"), Turn("agent", "在的亲")))
    model = Prefilling("亲，在的")
    held = with_model(base, model, DraftGate(frozenset()))
    held.warm_up(shops=False)
    held.observe(chat)
    # no intent is drafted: the model is not even loaded, and the CPU stays with retrieval
    assert model.prefills == 0 and not model.loaded
    drafting = with_model(base, model)
    drafting.warm_up(shops=False)
    drafting.observe(chat)
    assert model.prefills == 1 and model.loaded


# --- the real model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def llama(models_dir: Path) -> LlamaCppGenerator:
    generator = LlamaCppGenerator(drafting_gguf(models_dir, "llama_cpp"), n_ctx=2048)
    generator.warm_up()
    return generator


@pytest.mark.slow
def test_real_drafts_on_the_demo_questions_are_never_glued_or_cut(
    base: Suggester, llama: LlamaCppGenerator
) -> None:
    suggester = with_model(base, llama, patient=True)
    drafts, streamed_all = [], []
    for shop, question in DEMO_QUESTIONS:
        shown: list[str] = []
        out = suggester.suggest(ask(shop, question), on_token=shown.append)
        streamed = "".join(shown)
        streamed_all.append(streamed)
        if streamed:
            assert "…" not in streamed and guardrails_pass(base, shop, streamed), streamed
        for draft in (c.text for c in out.candidates if c.source.llm):
            drafts.append(draft)
            parts = sentences(draft)
            assert 1 <= len(parts) <= 3, draft
            assert "…" not in draft and "..." not in draft, draft
            assert len(set(parts)) == len(parts), draft  # no sentence said twice
            assert not re.search(r".(?:亲|您好)[，,～]", draft[1:]), (
                draft
            )  # one greeting, one reply
            assert "资料" not in draft and "顾客消息" not in draft, draft
    assert drafts, f"no draft on any demo question; shown: {streamed_all}"


@pytest.mark.slow
def test_real_model_blocked_text_never_reaches_the_stream(
    base: Suggester, llama: LlamaCppGenerator
) -> None:
    """The real model, asked about something the guardrails block (another platform's
    contact, a promise): whatever it writes, what was streamed passes the final guardrails."""
    suggester = with_model(base, llama, patient=True)
    for text in ("加你微信聊可以吗，给我转账优惠点", "保证给我退款吗？一定要赔我100元"):
        shown: list[str] = []
        suggester.suggest(ask("demo-pdd", text), on_token=shown.append)
        streamed = "".join(shown)
        assert not streamed or guardrails_pass(base, "demo-pdd", streamed), streamed
        assert "微信" not in streamed and "转账" not in streamed


@pytest.mark.slow
def test_real_model_gate_holds_back_when_told(base: Suggester, llama: LlamaCppGenerator) -> None:
    question = ask("demo-pdd", "保温效果怎么样")
    intent = base.classifier.classify(question).label
    out = with_model(base, llama, DraftGate(frozenset())).suggest(question)
    assert "llm_held_back" in out.degraded and not any(c.source.llm for c in out.candidates)
    assert "llm" not in out.timings_ms
    allowed = with_model(base, llama, DraftGate(frozenset({intent})), patient=True)
    assert "llm" in allowed.suggest(question).timings_ms


@pytest.mark.slow  # the demo shops on the real embedder
def test_a_draft_rejected_mid_stream_stops_the_model(base: Suggester) -> None:
    tail = "后面还有很多很多话，" * 60
    model = Scripted("亲，有问题加我微信abc123，" + tail, size=1)
    model.delay = 0.002
    out = with_model(base, model).suggest(ask("demo-pdd", "保温杯能装开水吗"))
    assert "llm_rejected:blocked" in out.degraded
    assert model.produced < len(model.text) // 2  # stopped at the blocked clause

"""The Suggester: one conversation in, one Suggestion out.

    classify intent -> sentiment -> retrieve KB -> grounded candidates -> history replies
      -> guardrails -> LLM draft (timed out, guardrailed) -> pick up to 3 -> route -> upsell

Candidate slots go first to one of each source (grounded KB answer, history reply, LLM draft),
then to the next best; no two near-duplicates. A stage that fails or is missing (no KB for the
shop, no history bank, LLM slow or down) is skipped and named in `degraded`; the agent still
gets whatever the other stages found. Each stage's time is in `timings_ms`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from copilot.agreement import (
    a_check_comes_first,
    agreed_first,
    confident_faq,
    grounded_offered,
    products_in_focus,
    retrievers_agree,
)
from copilot.clock import Clock, today
from copilot.grounding.follow_ups import retrieval_query
from copilot.grounding.grounder import GroundedAnswer, Grounder
from copilot.grounding.upsell import Upseller
from copilot.guardrails.checks import apply_guardrails
from copilot.guardrails.facts import GuardrailFacts, OtherShopNames, ShopFacts
from copilot.guardrails.moment import fits_the_moment
from copilot.history.order_slots import fill_order_slots
from copilot.intents.adoption import ScriptIntents
from copilot.intents.rules import model_text
from copilot.llm.draft_stage import DraftRequest, draft_stage
from copilot.llm.drafting import DraftConfig, Generator, build_prefill_messages
from copilot.routing import RoutingSignals, route
from copilot.sentiment.analyzer import Sentiment, SentimentAnalyzer
from copilot.stages import (
    HistoryStage,
    IntentStage,
    PolicySource,
    SupportsPrefill,
    SupportsPrepare,
)
from copilot.templates import changes_contact, fallback, has_bought, next_step, unanswered_complaint
from copilot.text.similarity import text_jaccard
from copilot.types import Candidate, Conversation, Intent, ShopPolicy, Source, Suggestion
from kb.lifecycle import SupportsWarmUp
from kb.source import KnowledgeSource
from kb.types import Hit


@dataclass(frozen=True)
class SuggesterConfig:
    max_candidates: int = 3
    kb_k: int = 8
    history_k: int = 3
    use_llm: bool = True
    draft: DraftConfig = field(default_factory=DraftConfig)
    near_duplicate: float = 0.7  # character-bigram Jaccard above which two texts are one
    # The share of the nearest past situations' votes that the bank's best reply wins, under
    # which the bank is guessing: the holding step ("稍等，这边帮您确认一下") leads and the bank's
    # replies follow it. Measured on JDDC's judged turns (see bench/README.md); 0: never.
    bank_agreement_floor: float = 0.15
    # Retrieval stages (all but the LLM draft) running at once; more wait their turn. They
    # hold the GIL most of the time, so more threads only contend: on 2 cores, 8 at once
    # cost 10.6 ms CPU a suggestion against 6.4 ms one at a time. None: no limit.
    concurrent_retrievals: int | None = None


class Suggester:
    def __init__(
        self,
        kb: KnowledgeSource,
        classifier: IntentStage,
        *,
        policies: PolicySource,
        clock: Clock,
        history: HistoryStage | None = None,
        generator: Generator | None = None,
        shop_names: Mapping[str, str] | None = None,
        config: SuggesterConfig | None = None,
    ) -> None:
        self.kb = kb
        self.classifier = classifier
        self.policies = policies
        self.clock = clock
        self.history = history
        self.generator = generator
        self.shop_names = dict(shop_names or {})
        self.config = config or SuggesterConfig()
        self.grounder = Grounder(kb, shop_names=self.shop_names, k=self.config.kb_k, clock=clock)
        self.facts = GuardrailFacts(kb, self.shop_names)
        self.upseller = Upseller(kb, clock=clock)
        self.script_intents = ScriptIntents(kb, classifier)
        self.sentiment = SentimentAnalyzer()
        slots = self.config.concurrent_retrievals
        self._retrieval_slot: AbstractContextManager[Any] = (
            threading.BoundedSemaphore(slots) if slots else nullcontext()
        )

    def warm_up(self, *, shops: bool = True) -> None:
        """Load every model once (idempotent): embedder, classifier, sentiment, LLM (not when the
        draft gate holds every draft back: it would never be asked); with `shops`, the shops'
        indexes, guardrail facts and catalogs too, as many as the index cache holds (a replica
        behind a shop-routing balancer builds only the shops sent to it).
        """
        generator = self.generator if self._drafting else None
        stages = (self.kb, self.classifier, self.history, self.sentiment, generator,
                  *((self.facts, self.grounder) if shops else ()))  # fmt: skip
        for stage in stages:
            if isinstance(stage, SupportsWarmUp):
                stage.warm_up()

    def suggest(
        self,
        conversation: Conversation,
        *,
        use_llm: bool | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Suggestion:
        """The final suggestion: the last one `stream` yields."""
        *_, final = self.stream(conversation, use_llm=use_llm, on_token=on_token)
        return final

    def stream(
        self,
        conversation: Conversation,
        *,
        use_llm: bool | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Iterator[Suggestion]:
        """Yield the retrieval-only suggestion at once, then, when the LLM drafts, the final one.

        An agent reads the first within tens of milliseconds; the draft follows in seconds.
        `on_token` receives the draft as it grows, a checked clause at a time: text that the
        guardrails or the draft checks would block is never handed to it (GuardedStream); ""
        for a model piece that shows nothing yet (raise from it to stop the model).
        """
        with self._retrieval_slot, self.kb.consistent_versions():
            policy = self.policies.get(conversation.shop_id)
            run = _Run(conversation, policy, today(self.clock))
            run.kb_known = self.kb.exists(conversation.shop_id)
            with run.timed("intent"):
                self._embed_message(conversation.last_customer_text)
                intent = self.classifier.classify(conversation)
            with run.timed("sentiment"):
                mood = self.sentiment.analyze(conversation.last_customer_text)
            hits, grounded = self._ground(run, intent)
            history = self._history(run, intent)
            with run.timed("guardrails"):
                checked = self._guard(run, [*grounded.candidates, *history], grounded)
                if not checked:  # nothing fits: the intent's next step beats nothing
                    fallen = fallback(
                        run.conversation, intent, product_known=grounded.product_id is not None
                    )
                    checked = self._guard(run, fallen, grounded)
            first = self._assemble(run, intent, mood, hits, grounded, checked)
        yield first
        if self.generator is not None and (self.config.use_llm if use_llm is None else use_llm):
            checked += self._draft(run, intent, checked, grounded, on_token)
            with self.kb.consistent_versions():
                final = self._assemble(run, intent, mood, hits, grounded, checked)
            yield final

    def observe(self, conversation: Conversation) -> None:
        """Turns arrived with no suggestion asked for (the agent's reply, pushed by the chat
        tool): do now what the customer's next message would otherwise wait for: embed the
        reply for the intent's context, and evaluate the LLM prompt's rules and earlier turns."""
        if isinstance(self.classifier, SupportsPrepare):
            self.classifier.prepare(conversation)
        if isinstance(self.generator, SupportsPrefill) and self._drafting:
            shop_id = conversation.shop_id
            self.generator.prefill(
                build_prefill_messages(
                    conversation, shop_name=self.shop_names.get(shop_id, ""),
                    max_reply_chars=self.policies.get(shop_id).max_reply_chars,
                    max_context_turns=self.config.draft.max_context_turns,
                )
            )  # fmt: skip

    @property
    def _drafting(self) -> bool:
        """Drafts may be asked for: the LLM is on and the gate lets some intent have one."""
        return self.config.use_llm and not self.config.draft.gate.holds_back_all

    def _embed_message(self, message: str) -> None:
        """The message's two query texts in one model run when they differ: the intent and the
        KB read model_text(), the response bank the raw message (its examples keep placeholders
        as slots). Each stage then finds its vector in the embedder's query cache."""
        texts = list(dict.fromkeys(t for t in (model_text(message), message) if t))
        if len(texts) > 1 and self.history is not None:
            self.kb.embedder.embed_batch(texts, role="query")

    def _assemble(
        self,
        run: _Run,
        intent: Intent,
        mood: Sentiment,
        hits: list[Hit],
        grounded: GroundedAnswer,
        checked: list[Candidate],
    ) -> Suggestion:
        conversation = run.conversation
        chosen = self._pick(checked)
        answered = agreed_first(hits, chosen)
        check_first = bool(chosen) and (
            a_check_comes_first(
                intent, chosen[0], answered=answered, bought=has_bought(conversation)
            )
            or self._bank_guessing(run, chosen[0])
            or changes_contact(conversation, intent, chosen)
        )
        full = len(chosen) >= self.config.max_candidates
        # a reported problem, or a complaint no reply is sorry for, keeps a place for the next
        # step: the last, when rules fill them
        reserve = (
            full
            and not check_first
            and (grounded.problem_reported or unanswered_complaint(intent, chosen))
        )
        if check_first or not full or reserve:  # else no slot for a step
            steps = next_step(conversation, intent, chosen, answered=answered)
            steps = self._guard(run, steps, grounded)
            lead = steps[:1]
            if check_first:
                chosen = self._fill(lead, chosen)
            else:
                fresh = [s for s in lead if s not in chosen]  # the shop's apology may be there
                chosen = self._fill(chosen[:-1] if reserve and fresh else chosen, fresh)
            chosen = self._fill(chosen, steps[1:])
        if any(c.source.llm for c in checked) and not any(c.source.llm for c in chosen):
            # the model repeated a retrieval candidate (it copies its material): nothing to add
            run.degraded.append("llm_duplicate")
        with run.timed("route"):
            confident = confident_faq(hits, chosen, products_in_focus(conversation, grounded))
            signals = RoutingSignals(
                mood.negative, mood.threats, confident, grounded_offered(chosen)
            )
            decided = route(conversation, intent, run.policy, signals)
        upsell = None
        if run.kb_known:
            with run.timed("upsell"):
                upsell = self.upseller.suggest(
                    conversation, intent, decided, sentiment_negative=mood.negative, day=run.day
                )
        return Suggestion(
            conversation.shop_id,
            intent,
            decided,
            tuple(chosen),
            upsell,
            dict(run.timings),
            tuple(run.degraded),
            retrievers_agree(hits),
            run.draft_tokens,
        )

    def _bank_guessing(self, run: _Run, first: Candidate) -> bool:
        """The first candidate is the bank's, and few of the past situations nearest this one
        ended with it: an off-topic reply is likelier than a fitting one."""
        floor = self.config.bank_agreement_floor
        return first.source.kind == "history" and run.bank_agreement < floor

    def _ground(self, run: _Run, intent: Intent) -> tuple[list[Hit], GroundedAnswer]:
        conversation = run.conversation
        if not run.kb_known:
            run.degraded.append("no_knowledge_base")
            return [], GroundedAnswer(())
        with run.timed("retrieve"):
            hits = self.kb.search(conversation.shop_id, _query(conversation), k=self.config.kb_k)
        with run.timed("ground"):
            adopted = self.script_intents.for_shop(conversation.shop_id)
            grounded = self.grounder.ground(
                conversation, intent, hits, day=run.day, adopted=adopted
            )
            return hits, grounded

    def _history(self, run: _Run, intent: Intent) -> list[Candidate]:
        if self.history is None:
            return []
        conversation = run.conversation
        message = conversation.last_customer_text
        with run.timed("history"):
            # The raw message, not model_text(): the bank's examples keep placeholders as slots
            # ({数字}), and normalised stand-ins ("1") cost 2 points of coverage on JDDC. The
            # same text as the intent's (a query-cache hit) unless it held placeholders.
            vector = self.kb.embedder.embed_batch([message], role="query")[0] if message else None
            # twice as many as are offered: a reply with a slot the order cannot fill, or one
            # the guardrails block, leaves its place to the next instead of an empty slot
            hits = self.history.search(
                conversation.shop_id, message, conversation.turns[:-1],
                2 * self.config.history_k, intent=intent.label, query_vector=vector,
            )  # fmt: skip
        if hits:
            run.bank_agreement = max(hit.parts.get("votes", hit.score) for hit in hits)
        candidates = []
        for hit in hits:
            text = fill_order_slots(hit.text, hit.slots, conversation)
            if text:
                candidates.append(
                    Candidate(text, "answer", Source(history_reply_ids=(hit.reply_id,)), hit.score)
                )
        # written for other conversations: no goodbye mid-problem, no apology before a purchase
        return [c for c in candidates if fits_the_moment(c, conversation, intent)]

    def _guard(
        self, run: _Run, candidates: list[Candidate], grounded: GroundedAnswer
    ) -> list[Candidate]:
        if not candidates:
            return []
        if not run.kb_known:  # nothing to check numbers against: every number is unsupported
            return apply_guardrails(candidates, **self._facts_for(run, grounded, empty=True))
        return apply_guardrails(candidates, **self._facts_for(run, grounded))

    def _facts_for(
        self, run: _Run, grounded: GroundedAnswer, *, empty: bool = False
    ) -> dict[str, Any]:
        shop_id = run.conversation.shop_id
        facts = ShopFacts.from_entries(shop_id, ()) if empty else self.facts.shop_facts(shop_id)
        others = OtherShopNames.build(facts, ()) if empty else self.facts.other_shops(shop_id)
        return {
            "shop_id": shop_id, "kb_facts": facts, "order": run.conversation.order,
            "policy": run.policy, "other_shops": others, "computed": grounded.computed,
            "day": run.day,
            "memo": None if empty else self.facts.memo(facts, others),
        }  # fmt: skip

    def _draft(
        self,
        run: _Run,
        intent: Intent,
        checked: list[Candidate],
        grounded: GroundedAnswer,
        on_token: Callable[[str], None] | None = None,
    ) -> list[Candidate]:
        if self.generator is None:
            return []

        def passes_guardrails(text: str) -> bool:  # a part, not worth the memo's space
            part = Candidate(text, "answer", Source(llm=True), 0.0)
            facts = {**self._facts_for(run, grounded, empty=not run.kb_known), "memo": None}
            return bool(apply_guardrails([part], **facts))

        request = DraftRequest(
            run.conversation, intent.label, checked,
            self.shop_names.get(run.conversation.shop_id, ""), run.policy.max_reply_chars,
            lambda drafts: self._guard(run, drafts, grounded), passes_guardrails,
        )  # fmt: skip
        outcome = draft_stage(self.generator, self.config.draft, request, on_token)
        run.degraded += outcome.degraded
        run.timings.update(outcome.timings)
        run.draft_tokens = outcome.tokens
        return outcome.candidates

    def _pick(self, candidates: list[Candidate]) -> list[Candidate]:
        """One per source first (KB, history, LLM), then the rest in order; no near-duplicates."""
        by_source: dict[str, list[Candidate]] = {"kb": [], "history": [], "llm": [], "template": []}
        for candidate in candidates:
            by_source[candidate.source.kind].append(candidate)
        ordered = [group[0] for group in by_source.values() if group]
        ordered += [c for group in by_source.values() for c in group[1:]]
        return self._fill([], ordered)

    def _fill(self, chosen: list[Candidate], more: list[Candidate]) -> list[Candidate]:
        """`chosen` and then those of `more` unlike all before them, up to max_candidates."""
        chosen = list(chosen)
        limit = self.config.near_duplicate
        for candidate in more:
            if len(chosen) == self.config.max_candidates:
                break
            if all(text_jaccard(candidate.text, c.text) < limit for c in chosen):
                chosen.append(candidate)
        return chosen


@dataclass
class _Run:
    conversation: Conversation
    policy: ShopPolicy
    day: date  # the clock's today, read once: every stage of one suggestion sees the same day
    timings: dict[str, float] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    kb_known: bool = True
    draft_tokens: int = 0
    bank_agreement: float = 1.0  # the votes the bank's best reply won (1.0: no bank asked)

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round((time.perf_counter() - started) * 1000, 2)


def _query(conversation: Conversation) -> str:
    """What to retrieve with: the customer's latest message as the classifier embedded it
    (context is the classifier's job), with their previous one when it only answers the agent
    (follow_ups.retrieval_query): then it costs one more embedding."""
    message = conversation.last_customer_text
    if message:
        return model_text(retrieval_query(conversation))
    return conversation.turns[-1].text if conversation.turns else ""

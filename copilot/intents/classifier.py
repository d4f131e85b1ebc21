"""Customer intents: the taxonomy, labelled examples, and the classifier.

Taxonomy (family / label: meaning)::

    pre_sales   product_question    what a product or service is, does, is made of; express quotes
                spec_size           which size, capacity or specification fits
                stock               in stock?, which colours/sizes are left, when restocked
                price_promotion     price, coupons, discounts, 满减, gifts, free shipping
                shipping_time       when it ships, how long it takes, which carrier
    in_sales    change_address      change the delivery address (or give the new one)
                change_phone        change the contact phone (or give the new number)
                order_note          remarks on an unshipped order: spec fix, carrier, packaging
                logistics_tracking  where is my parcel, tracking number, no updates
                urge_delivery       hurry up: ship or deliver faster
                usage_question      how to use, clean or care for what was bought
    after_sales return              return / refund the goods (七天无理由, 仅退款)
                exchange            exchange for another size, colour or a new one
                damaged_item        it arrived broken or stopped working
                missing_item        a piece, accessory or gift is missing; empty parcel
                price_difference    the price dropped: 价保, 补差价
                reship              send it again / where is the re-shipment
                refund_status       where is my refund, when does the money arrive
    express     problem_parcel      a parcel the outlet cannot deliver: stuck, refused, lost
                work_order          a ticket (工单): file one, its progress, its result
                arbitration_claim   claims (理赔, 赔偿) and platform arbitration (仲裁, 介入)
    general     greeting            hello, are you there
                thanks              thanks, or a closing acknowledgement (好的, ok 付了)
                chitchat            small talk, stickers, no business content
                ask_human           wants a human agent, a supervisor
                complaint           anger, threats (12315, 差评, 曝光), complaints about service
                other               business outside this list: invoices, membership, stores

`IntentClassifier` votes with the nearest labelled examples (e5 vectors, role "query" on both
sides: a symmetric task), adds keyword rules (copilot.intents.rules) and reads the previous
turns: a bare "好的" or an address right after the agent asked for one continues the ongoing
intent. Greeting, thanks and chitchat need social evidence (only social words, or a close
social example), so a vague business message is not filed as small talk. The confidence is
calibrated by cross-validation on the training examples (isotonic regression of "the top label
was right" on the top probability): 0.8 means about 80% right on messages like the examples.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from copilot.errors import IntentDataError, LineError
from copilot.intents.examples import (
    IntentExampleStore,
    LabelledExample,
    load_examples,
)
from copilot.intents.rules import (
    INTENTS,
    LABELS,
    SOCIAL_LABELS,
    agent_asks,
    agent_context_text,
    family_of,
    is_acknowledgement,
    is_greeting,
    is_markup_only,
    is_social_only,
    last_agent_turn,
    match_rules,
    model_text,
    normalize,
    slot_kind,
    split_turns,
    turn_tail,
    without_leading_ack,
)
from copilot.types import Conversation, Intent, IntentScore

if TYPE_CHECKING:
    from kb.models.embedder import Embedder
    from kb.storage.vector_store import StoredVectors


DEFAULT_EXAMPLES = Path(__file__).resolve().parent / "data" / "intent_examples.jsonl"
_INDEX = {label: i for i, label in enumerate(LABELS)}
_SOCIAL = np.array([label in SOCIAL_LABELS for label in LABELS])
# What a follow-up ("好的" after "请提供新地址") cannot mean: it continues the business at hand.
_GENERAL = np.array([INTENTS[label].family == "general" for label in LABELS])


# ---------------------------------------------------------------- the classifier


@dataclass(frozen=True)
class ClassifierConfig:
    """Knobs of the classifier; the defaults were chosen by 5-fold CV on the training examples."""

    k: int = 10  # neighbours that vote
    # e5 cosines of related short messages sit in a narrow band (~0.85-1.0), so a vote weighs
    # exp((sim - 1) / temperature): at 0.02 a 0.05 higher cosine is worth ~12x the vote.
    temperature: float = 0.02
    # An "unknown" pseudo-neighbour at this cosine: when no example comes closer, the top
    # probability (and so the confidence) drops instead of the nearest stranger winning.
    background_similarity: float = 0.88
    rule_weight: float = 1.0  # a weight-1 rule counts as much as the whole kNN vote
    # Greeting/thanks/chitchat without social words need a social example this close (CV on
    # the training examples: most social examples have one, most business ones do not) ...
    social_similarity: float = 0.90
    social_damping: float = 0.3  # ... else their probabilities are scaled down by this
    follow_up_weight: float = 0.85  # share of a bare "好的"/slot value decided by the context
    # Other messages: the previous turns decide context_weight * (1 - own top probability), so
    # "大概多久" (unsure alone) leans on them and "退款怎么还没到账" does not.
    context_weight: float = 0.8
    # Below this share the previous turns cannot move the label (a top probability > 0.875
    # stays on top), so they are not even embedded.
    min_context_share: float = 0.1
    folds: int = 5


@dataclass(frozen=True)
class _Examples:
    texts: tuple[str, ...]
    labels: np.ndarray  # label indexes
    vectors: np.ndarray  # (n, dim), L2-normalised


class IntentClassifier:
    """kNN over labelled examples + keyword rules + previous turns, with calibrated confidence."""

    def __init__(
        self,
        embedder: Embedder,
        examples: Sequence[LabelledExample],
        config: ClassifierConfig | None = None,
        *,
        stored_vectors: StoredVectors | None = None,
    ) -> None:
        if not examples:
            raise IntentDataError([LineError("examples", None, "no labelled examples given")])
        _check_labels(examples)
        self.embedder = embedder
        self.config = config or ClassifierConfig()
        self.stored_vectors = stored_vectors
        self._pending: list[tuple[str | None, list[LabelledExample]]] = [(None, list(examples))]
        self._global: _Examples | None = None
        self._shops: dict[str, _Examples] = {}
        self._calibration = (np.array([0.0, 1.0]), np.array([0.0, 1.0]))
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Embed the examples and fit the calibration, once; safe to call again."""
        with self._lock:
            first = self._global is None
            pending, self._pending = self._pending, []
            for shop_id, examples in pending:
                self._merge(shop_id, examples)
            if first:
                self._calibration = self._fit_calibration()

    def add_examples(self, examples: Iterable[LabelledExample], shop_id: str | None = None) -> None:
        """More examples for every shop (None) or for one shop only; embedded now if warm.
        Global examples added after warm_up() vote but do not refit the calibration."""
        batch = list(examples)
        _check_labels(batch)
        with self._lock:
            if self._global is None:
                self._pending.append((shop_id, batch))
            else:
                self._merge(shop_id, batch)

    def _merge(self, shop_id: str | None, examples: list[LabelledExample]) -> None:
        if not examples:
            return
        texts = [model_text(e.text) for e in examples]
        if self.stored_vectors is None:
            vectors = self.embedder.embed_batch(texts, role="query")
        else:
            vectors = self.stored_vectors.embed(self.embedder, texts, role="query")
        labels = np.array([_INDEX[e.label] for e in examples])
        old = self._global if shop_id is None else self._shops.get(shop_id)
        if old is not None:
            texts = [*old.texts, *texts]
            labels = np.concatenate([old.labels, labels])
            vectors = np.vstack([old.vectors, vectors])
        merged = _Examples(tuple(texts), labels, vectors)
        if shop_id is None:
            self._global = merged
        else:
            self._shops[shop_id] = merged

    def classify(self, conversation: Conversation) -> Intent:
        """The intent of the customer's latest message, read with the turns before it."""
        self.warm_up()
        message, agent, previous = split_turns(conversation.turns)
        text = normalize(message)
        probs, reasons = self._message(text, message, conversation.shop_id)
        if agent and is_acknowledgement(text) and not agent_asks(agent):
            # "好的" after an answer or a done deal closes the topic: that is thanks.
            probs = (probs + _onehot("thanks")) / 2
            reasons = (*reasons, "context:closing@thanks")
        share, why = self._context_share(text, agent, float(probs.max()))
        if share >= self.config.min_context_share:
            context = self._context(agent, previous, conversation.shop_id)
            if context is not None:
                probs = (1 - share) * probs + share * context
                if np.argmax(context) == np.argmax(probs):
                    reasons = (*reasons, why)
        return self._intent(probs, reasons)

    def prepare(self, conversation: Conversation) -> None:
        """Embed now what classifying the customer's next message will read of these turns:
        the agent's latest turn, as `_context` embeds it. Called while the customer types, it
        leaves that call a query-cache hit instead of a second e5 run."""
        text = agent_context_text(last_agent_turn(conversation.turns))
        if text:
            self.embedder.embed_batch([text], role="query")

    def confidence(self, top_probability: float) -> float:
        """The calibrated probability that a top label with this probability is right."""
        xs, ys = self._calibration
        return round(float(np.interp(top_probability, xs, ys)), 4)

    def _intent(self, probs: np.ndarray, reasons: tuple[str, ...]) -> Intent:
        order = np.argsort(-probs)[:3]
        label = LABELS[int(order[0])]
        kept = [
            r.split("@")[0]
            for r in reasons
            if r.startswith(("context", "gate")) or r.endswith("@" + label)
        ]
        return Intent(
            label=label,
            confidence=self.confidence(float(probs[order[0]])),
            top=tuple(IntentScore(LABELS[int(i)], round(float(probs[i]), 4)) for i in order),
            family=family_of(label),
            reasons=tuple(kept) or ("knn",),
        )

    def _context_share(self, text: str, agent: str, own_top: float) -> tuple[float, str]:
        """How much the previous turns decide: nearly all for a bare answer to the agent's
        question; otherwise the less sure the message is alone, the more."""
        if not agent:
            return 0.0, ""
        if is_acknowledgement(text) or slot_kind(text):
            if agent_asks(agent):
                return self.config.follow_up_weight, "context:follow_up"
            if is_acknowledgement(text):
                return 0.0, ""
        return self.config.context_weight * (1.0 - own_top), "context:previous_turns"

    def _context(self, agent: str, previous: str, shop_id: str) -> np.ndarray | None:
        """The ongoing business intent, from the agent's last turn and the customer's before."""
        agent, previous = turn_tail(agent), turn_tail(previous)
        mixed = self._message(normalize(agent), agent, shop_id)[0]
        if previous:
            # The agent's turn is what the customer answers; their own turn before sets the topic.
            earlier = self._message(normalize(previous), previous, shop_id)[0]
            mixed = 0.6 * mixed + 0.4 * earlier
        mixed[_GENERAL] = 0.0
        total = float(mixed.sum())
        return mixed / total if total > 0 else None

    def _message(self, text: str, raw: str, shop_id: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """Probabilities over LABELS for one message (summing to <= 1) and the reasons."""
        text = without_leading_ack(text)
        sims, labels = np.zeros(0), np.zeros(0, dtype=np.int64)
        if text:
            vector = self.embedder.embed_batch([text], role="query")[0]
            sims, labels = self._similarities(vector, shop_id)
        return _score(text, raw, sims, labels, self.config)

    def _similarities(self, vector: np.ndarray, shop_id: str) -> tuple[np.ndarray, np.ndarray]:
        assert self._global is not None
        sims, labels = self._global.vectors @ vector, self._global.labels
        shop = self._shops.get(shop_id)
        if shop is not None:
            sims = np.concatenate([sims, shop.vectors @ vector])
            labels = np.concatenate([labels, shop.labels])
        return sims, labels

    def _fit_calibration(self) -> tuple[np.ndarray, np.ndarray]:
        """Isotonic map top probability -> P(right), from k-fold CV over the global examples."""
        data = self._global
        assert data is not None
        n = len(data.texts)
        if n < 4 * self.config.folds:
            return np.array([0.0, 1.0]), np.array([0.0, 1.0])
        folds = np.random.default_rng(0).permutation(n) % self.config.folds
        tops, right = np.zeros(n), np.zeros(n)
        for i in range(n):
            sims = np.where(folds == folds[i], -1.0, data.vectors @ data.vectors[i])
            probs, _ = _score(data.texts[i], data.texts[i], sims, data.labels, self.config)
            tops[i], right[i] = probs.max(), float(np.argmax(probs) == data.labels[i])
        return isotonic_fit(tops, right)


def _onehot(label: str) -> np.ndarray:
    vector = np.zeros(len(LABELS))
    vector[_INDEX[label]] = 1.0
    return vector


def _check_labels(examples: Iterable[LabelledExample]) -> None:
    if unknown := sorted({e.label for e in examples} - set(INTENTS)):
        raise IntentDataError([LineError("examples", None, f"unknown intent labels {unknown}")])


def _score(
    text: str, raw: str, sims: np.ndarray, labels: np.ndarray, config: ClassifierConfig
) -> tuple[np.ndarray, tuple[str, ...]]:
    """kNN votes + rules + the social gate -> probabilities over LABELS, and the reasons."""
    votes = _vote(sims, labels, config)
    reasons = [f"knn@{LABELS[int(np.argmax(votes[:-1]))]}"] if len(sims) else []
    for rule in match_rules(text):
        votes[_INDEX[rule.label]] += config.rule_weight * rule.weight
        reasons.append(f"rule:{rule.name}@{rule.label}")
    for cue, label, name in (
        (is_markup_only(raw), "chitchat", "表情"),
        (is_greeting(text), "greeting", "问候"),
    ):
        if cue:
            votes[_INDEX[label]] += config.rule_weight
            reasons.append(f"rule:{name}@{label}")
    probs = votes[:-1] / votes.sum()
    social_sim = float(sims[_SOCIAL[labels]].max(initial=-1.0)) if len(sims) else -1.0
    evidence = is_social_only(text) or is_markup_only(raw)
    if _SOCIAL[np.argmax(probs)] and not evidence and social_sim < config.social_similarity:
        probs[_SOCIAL] *= config.social_damping
        reasons.append("gate:not_social")
    return probs, tuple(reasons)


def _vote(sims: np.ndarray, labels: np.ndarray, config: ClassifierConfig) -> np.ndarray:
    """Votes per label and, last, the background pseudo-neighbour, normalised to sum 1."""
    votes = np.zeros(len(LABELS) + 1)
    k = min(config.k, len(sims))
    if k:
        top = np.argpartition(-sims, k - 1)[:k]
        np.add.at(votes, labels[top], np.exp((sims[top] - 1.0) / config.temperature))
    votes[-1] = np.exp((config.background_similarity - 1.0) / config.temperature)
    return votes / votes.sum()


def isotonic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool-adjacent-violators: a non-decreasing map x -> mean y, as knots for np.interp.

    Block means are Laplace-smoothed ((right + 1) / (n + 2)), so a small all-right block maps
    to a little under 1, not to certainty.
    """
    blocks: list[list[float]] = []  # [sum of y, count, lowest x, highest x]
    for xi, yi in sorted(zip(x.tolist(), y.tolist(), strict=True)):
        blocks.append([yi, 1.0, xi, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            total, count, _, high = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
            blocks[-1][3] = high
    xs = [edge for _, _, low, high in blocks for edge in (low, high)]
    ys = [(s + 1.0) / (c + 2.0) for s, c, _, _ in blocks for _ in (0, 1)]
    return np.array(xs), np.maximum.accumulate(np.array(ys))


def default_classifier(
    embedder: Embedder, store: IntentExampleStore | None = None, path: Path = DEFAULT_EXAMPLES
) -> IntentClassifier:
    """The shipped examples plus what `copilot intents train` stored (global and per shop); with
    a store, example vectors are kept in its Redis too, so later processes start at once."""
    from kb.storage.vector_store import StoredVectors

    stored = StoredVectors(store.client) if store is not None else None
    classifier = IntentClassifier(embedder, load_examples(path), stored_vectors=stored)
    if store is not None:
        classifier.add_examples(store.all(None))
        for shop_id in store.shops():
            classifier.add_examples(store.all(shop_id), shop_id=shop_id)
    return classifier

"""Intents for the scripts and FAQs a trainer's sheets leave without one.

A new shop's sheets name scripts by situation (进店欢迎, 催发货, 坏果处理) and carry no intent
column, so nothing would match them to a greeting or a parcel chase. The classifier reads each
one as a customer would say it (the script's situation, the FAQ's question) and lends it the
intent it is sure of; the trainer confirms with `copilot intents adopt SHOP --apply`, which
writes them into the KB. The pipeline uses the scripts' adopted intents at once (few per shop,
classified once per KB version); FAQs are answered by retrieval and only adopt on confirmation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from copilot.evicted import forget_evicted
from copilot.stages import IntentStage
from copilot.types import Conversation, Turn
from kb.types import FAQ, Entry, Script

if TYPE_CHECKING:
    from kb.source import KnowledgeSource

MIN_CONFIDENCE = 0.5  # below this the label is a guess, and a guess is not lent
_NOT_LENT = frozenset({"other", "chitchat"})


@dataclass(frozen=True)
class Adoption:
    entry_id: str
    kind: str
    text: str  # what was classified
    label: str
    confidence: float


# What trainers call their scripts' situations, across shops: read before the classifier,
# which reads customers' words, not a script's title.
_SITUATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(words), label)
    for words, label in (
        (r"欢迎|开场|进店|问候|打招呼", "greeting"),
        (r"结束语|告别|感谢|致谢|结束", "thanks"),
        (r"催发货|发货慢|催单", "urge_delivery"),
        (r"物流|查件|快递查询", "logistics_tracking"),
        (r"坏果|破损|售后道歉|质量问题|道歉", "damaged_item"),
        (r"退货|退款", "return"),
        (r"换货", "exchange"),
        (r"投诉|安抚|差评", "complaint"),
        (r"议价|砍价|优惠", "price_promotion"),
        (r"改地址|修改地址", "change_address"),
    )
)


def situation_intent(title: str) -> str | None:
    """The intent a script's situation names (进店欢迎 -> greeting), if it names one."""
    return next((label for pattern, label in _SITUATIONS if pattern.search(title)), None)


def proposals(
    shop_id: str, entries: Iterable[Entry], classifier: IntentStage, *, kinds: tuple[str, ...]
) -> list[Adoption]:
    """An intent for every entry of these kinds that has none, where its title names one or
    the classifier is sure."""
    found = []
    for entry in entries:
        if isinstance(entry, Script) and "script" in kinds and not entry.intent:
            text = entry.title or entry.text
            named = situation_intent(text)
            if named is not None:
                found.append(Adoption(entry.id, entry.kind, text, named, 1.0))
                continue
        elif isinstance(entry, FAQ) and "faq" in kinds and not entry.intent:
            text = entry.question
        else:
            continue
        intent = classifier.classify(Conversation(shop_id, (Turn("customer", text),)))
        if intent.confidence >= MIN_CONFIDENCE and intent.label not in _NOT_LENT:
            found.append(Adoption(entry.id, entry.kind, text, intent.label, intent.confidence))
    return found


class ScriptIntents:
    """The adopted intents of each shop's scripts, kept per KB version."""

    def __init__(self, kb: KnowledgeSource, classifier: IntentStage) -> None:
        self.kb = kb
        self.classifier = classifier
        self._held: dict[str, tuple[int, Mapping[str, str]]] = {}
        self._lock = threading.Lock()

    def for_shop(self, shop_id: str) -> Mapping[str, str]:
        index = self.kb.index(shop_id)
        held = self._held.get(shop_id)
        if held is not None and held[0] == index.version:
            return held[1]
        found = proposals(shop_id, index.entries.values(), self.classifier, kinds=("script",))
        adopted = {a.entry_id: a.label for a in found}
        with self._lock:
            forget_evicted(self._held, self.kb.held())
            self._held[shop_id] = (index.version, adopted)
        return adopted

"""Knowledge gaps: what customers asked that the knowledge base could not answer with confidence.

The customer messages of suggestions whose retrieval was not confident are grouped by
character-bigram overlap (the measure the history bank merges replies with), most asked first,
so a trainer sees "12 customers asked 能开发票吗 this week" and writes one FAQ for all of them.
Greedy and single-pass: a message joins the first group whose representative it overlaps
enough, else starts a group; messages are taken most frequent first, so representatives are
the commonest wording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from copilot.text.similarity import bigrams, normalized_key, overlap

if TYPE_CHECKING:
    from copilot.feedback.records import SuggestionRecord

GROUP_OVERLAP = 0.5  # Ochiai overlap of bigram sets; "能开发票吗" vs "可以开发票吗" is 0.67


@dataclass
class _Group:
    grams: frozenset[str]  # of the wording that started the group
    keys: Counter[str] = field(default_factory=Counter)  # normalised wording -> messages
    intents: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class GapGroup:
    question: str  # the commonest wording
    count: int  # messages in the group (repeats included)
    examples: tuple[str, ...]  # other distinct wordings, commonest first
    intent: str  # the commonest intent label among them

    def to_dict(self) -> dict[str, object]:
        return {
            "question": self.question,
            "count": self.count,
            "examples": list(self.examples),
            "intent": self.intent,
        }


def find_gaps(
    records: Sequence[SuggestionRecord],
    *,
    threshold: float = GROUP_OVERLAP,
    limit: int = 50,
    max_examples: int = 5,
) -> list[GapGroup]:
    """Groups of unconfidently answered customer messages, largest first. Wordings that
    differ only in punctuation, spaces or case are one wording (shown as its commonest form)."""
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    intents: dict[str, Counter[str]] = {}
    for record in records:
        message = record.customer_msg.strip()
        key = normalized_key(message) or message
        if record.retrieval_confident or not key:
            continue
        counts[key] += 1
        forms.setdefault(key, Counter())[message] += 1
        intents.setdefault(key, Counter())[record.intent] += 1
    groups: list[_Group] = []
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        grams = bigrams(key)
        group = next((g for g in groups if overlap(g.grams, grams) >= threshold), None)
        if group is None:
            group = _Group(grams)
            groups.append(group)
        group.keys[key] += count
        group.intents.update(intents[key])
    ranked = sorted(groups, key=lambda g: -g.keys.total())[:limit]
    return [
        GapGroup(
            question=wordings[0],
            count=g.keys.total(),
            examples=tuple(wordings[1 : max_examples + 1]),
            intent=g.intents.most_common(1)[0][0],
        )
        for g in ranked
        for wordings in [[forms[k].most_common(1)[0][0] for k, _ in g.keys.most_common()]]
    ]

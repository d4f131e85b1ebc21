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

from copilot.history_mining import bigrams, normalized_key, overlap

if TYPE_CHECKING:
    from copilot.records import SuggestionRecord

GROUP_OVERLAP = 0.5  # Ochiai overlap of bigram sets; "能开发票吗" vs "可以开发票吗" is 0.67


@dataclass
class _Group:
    question: str
    grams: frozenset[str]
    messages: Counter[str] = field(default_factory=Counter)
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
    """Groups of unconfidently answered customer messages, largest first."""
    counts: Counter[str] = Counter()
    intents: dict[str, Counter[str]] = {}
    for record in records:
        message = record.customer_msg.strip()
        if record.retrieval_confident or not message:
            continue
        counts[message] += 1
        intents.setdefault(message, Counter())[record.intent] += 1
    groups: list[_Group] = []
    for message, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        grams = bigrams(normalized_key(message) or message)
        group = next((g for g in groups if overlap(g.grams, grams) >= threshold), None)
        if group is None:
            group = _Group(message, grams)
            groups.append(group)
        group.messages[message] += count
        group.intents.update(intents[message])
    ranked = sorted(groups, key=lambda g: -sum(g.messages.values()))[:limit]
    return [
        GapGroup(
            question=g.question,
            count=sum(g.messages.values()),
            examples=tuple(m for m, _ in g.messages.most_common() if m != g.question)[
                :max_examples
            ],
            intent=g.intents.most_common(1)[0][0],
        )
        for g in ranked
    ]

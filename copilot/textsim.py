"""Character-bigram similarity: the one cheap surface measure shared by every stage.

Chinese has no spaces, and two phrasings of one ask share most of their character pairs
(还没发货吗 / 怎么还没发货), so near-duplicate replies, repeated questions and redundant
candidates are all judged on character bigrams; meaning is the embedder's job.
"""

from __future__ import annotations

import math
import re
import unicodedata

_NOT_TEXT = re.compile(r"[\s\W_]+")


def flatten(text: str) -> str:
    """Lower-case NFKC text without spaces or punctuation: what two phrasings compare on."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())


def bigrams(text: str) -> frozenset[str]:
    """The text's character pairs; a one-character text is its own single gram."""
    if len(text) < 2:
        return frozenset((text,)) if text else frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared share of the union: 1.0 the same, 0.0 nothing shared (or either empty)."""
    return len(a & b) / len(a | b) if a and b else 0.0


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two gram sets (Ochiai): kinder than Jaccard to a short text inside a long one."""
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


def text_jaccard(a: str, b: str) -> float:
    """Jaccard of two texts' bigrams after flattening; identical texts score 1.0."""
    if a == b:
        return 1.0
    return jaccard(bigrams(flatten(a)), bigrams(flatten(b)))

"""Character-bigram similarity: the one cheap surface measure shared by every stage.

Chinese has no spaces, and two phrasings of one ask share most of their character pairs
(还没发货吗 / 怎么还没发货), so near-duplicate replies, repeated questions and redundant
candidates are all judged on character bigrams; meaning is the embedder's job.
"""

from __future__ import annotations

import math
import operator
import re
import unicodedata
from collections.abc import Sequence
from itertools import chain

import numpy as np

_NOT_TEXT = re.compile(r"[\s\W_]+")
# A slot a reply template leaves for the agent to fill: {订单号}, {姓名}.
SLOT = re.compile(r"\{[\u4e00-\u9fff]{1,5}\}")
_NOT_KEY = re.compile(r"[^\u4e00-\u9fffa-z0-9#]")


def flatten(text: str) -> str:
    """Lower-case NFKC text without spaces or punctuation: what two phrasings compare on."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())


def bigrams(text: str) -> frozenset[str]:
    """The text's character pairs; a one-character text is its own single gram."""
    if len(text) < 2:
        return frozenset((text,)) if text else frozenset()
    return frozenset(map(operator.add, text, text[1:]))  # pairs joined in C, not a generator


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared share of the union: 1.0 the same, 0.0 nothing shared (or either empty)."""
    return len(a & b) / len(a | b) if a and b else 0.0


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Cosine of two gram sets (Ochiai): kinder than Jaccard to a short text inside a long one."""
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


# The vectorised forms below equal overlap() bit for bit: the shared counts are exact integers,
# and the square root and the division are the same IEEE operations.


def overlap_matrix(grams: Sequence[frozenset[str]]) -> np.ndarray:
    """overlap() of every pair of gram sets at once (n x n, symmetric)."""
    owners = np.repeat(np.arange(len(grams)), [len(s) for s in grams])
    return _ochiai(_shared_counts(owners, _gram_codes(grams), len(grams)), owners, len(grams))


def text_overlap_matrix(texts: Sequence[str]) -> np.ndarray:
    """overlap_matrix([bigrams(t) for t in texts]), without building the sets."""
    owners, codes = _text_codes(texts)
    return _ochiai(_shared_counts(owners, codes, len(texts)), owners, len(texts))


def overlaps_with(text: str, others: Sequence[str]) -> np.ndarray:
    """overlap(bigrams(text), bigrams(other)) for each of `others` at once."""
    mine = _text_codes([text])[1]  # sorted
    owners, codes = _text_codes(others)
    found = np.searchsorted(mine, codes).clip(max=max(len(mine) - 1, 0))
    hits = mine[found] == codes if len(mine) else np.zeros(len(codes), dtype=bool)
    shared = np.bincount(owners[hits], minlength=len(others))
    norms = np.sqrt((len(mine) * np.bincount(owners, minlength=len(others))).astype(np.float64))
    return np.divide(shared, norms, out=np.zeros(len(others)), where=norms > 0)


def _ochiai(shared: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    sizes = np.bincount(owners, minlength=n).astype(np.float64)
    norms = np.sqrt(np.outer(sizes, sizes))
    return np.divide(shared, norms, out=np.zeros_like(norms), where=norms > 0)


# A bigram is its two code points (each < 2**21) packed in one integer; a one-character text's
# own gram gets a second half no code point has. A gram's code and the index of the text or set
# holding it (< 2**21) pack into one int64 too, so one plain sort groups them (np.unique and
# stable argsorts are several times slower at these sizes).
_SHIFT = 21
_LOW = (1 << _SHIFT) - 1  # also the lone character's second half
_CODE = (1 << 2 * _SHIFT) - 1


def _code_points(text: str) -> np.ndarray:
    data = text.encode("utf-32-le", "surrogatepass")  # lone surrogates are text too
    return np.frombuffer(data, dtype=np.uint32).astype(np.int64)


def _text_codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(text, code) of every distinct gram of every text, as bigrams() makes them, sorted."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    points = _code_points("".join(texts))
    owner = np.repeat(np.arange(len(texts)), lengths)
    inside = owner[:-1] == owner[1:]  # neighbours in one text, not across a joint
    lone = np.flatnonzero(lengths == 1)
    starts = np.cumsum(lengths) - lengths
    codes = np.concatenate(
        [((points[:-1] << _SHIFT) | points[1:])[inside], (points[starts[lone]] << _SHIFT) | _LOW]
    )
    owners = np.concatenate([owner[:-1][inside], lone])
    packed = np.sort((owners << 2 * _SHIFT) | codes)
    if len(packed):
        packed = packed[np.concatenate([[True], packed[1:] != packed[:-1]])]  # once a text
    return packed >> 2 * _SHIFT, packed & _CODE


def _shared_counts(owners: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """|A & B| for every pair of the n sets (each gram once a set): each gram adds one to every
    ordered pair of sets holding it.

    Pure numpy: no BLAS (whose spinning threads cost far more than this small product on a busy
    2-core machine) and no sparse matrix library; the pairs within each gram's run of holders
    are enumerated at once.
    """
    packed = np.sort((codes << _SHIFT) | owners)
    code, holder = packed >> _SHIFT, packed & _LOW
    starts = np.flatnonzero(np.concatenate([[True], code[1:] != code[:-1]]))
    run = np.diff(np.append(starts, len(code)))  # how many sets hold each gram
    width, first = np.repeat(run, run), np.repeat(starts, run)  # per entry: its gram's run
    left = np.repeat(holder, width)
    within = np.arange(len(left)) - np.repeat(np.cumsum(width) - width, width)
    right = holder[np.repeat(first, width) + within]
    return np.bincount(left * n + right, minlength=n * n).reshape(n, n)


def _gram_codes(grams: Sequence[frozenset[str]]) -> np.ndarray:
    """Each gram of each set, in iteration order, as an integer: equal grams, equal integers."""
    if set(map(len, chain.from_iterable(grams))) <= {2}:  # bigrams: packed without a loop
        points = _code_points("".join(["".join(s) for s in grams]))
        return (points[0::2] << _SHIFT) | points[1::2]
    vocabulary: dict[str, int] = {}  # a one-character text's gram, or grams of another kind
    return np.array([vocabulary.setdefault(g, len(vocabulary)) for s in grams for g in s], np.intp)


def text_jaccard(a: str, b: str) -> float:
    """Jaccard of two texts' bigrams after flattening; identical texts score 1.0."""
    if a == b:
        return 1.0
    return jaccard(bigrams(flatten(a)), bigrams(flatten(b)))


def normalized_key(text: str) -> str:
    """What two replies that say the same thing share: no punctuation, spaces or slot names."""
    flat = unicodedata.normalize("NFKC", SLOT.sub("#", text)).lower()
    return _NOT_KEY.sub("", flat)

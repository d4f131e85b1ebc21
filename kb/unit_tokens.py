"""The keyword tokens of an entry's index units, stored beside its vectors.

Tokenising is most of what building a shop's index costs (jieba and pinyin: ~75% of a rebuild),
and a shop evicted from the index cache is rebuilt on its next request. So the tokens are
computed once, at import, and stored (kb:{shop}:tokens, entry id -> this encoding); a rebuild
only reads them. An entry stored before that, or by another tokenizer version, has none that fit:
they are computed at its next build and written back (kb/index.py).

Encoding: the tokenizer's version on the first line, then a line per unit, its tokens separated
by spaces. Tokens never hold whitespace (kb/tokens.py keeps runs of CJK characters or of
Latin letters and digits), so the text splits back exactly, much faster than JSON parses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kb.tokens import TOKENIZER_VERSION, tokenize
from kb.types import Entry, IndexUnit
from kb.units import index_units


def encode(units: Sequence[Sequence[str]]) -> str:
    return f"{TOKENIZER_VERSION}\n" + "\n".join(" ".join(tokens) for tokens in units)


def decode(raw: str | bytes | None, units: int) -> list[list[str]] | None:
    """Each unit's tokens, or None when there are none that fit: absent, made by another
    tokenizer version, or for another number of units."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    version, _, body = text.partition("\n")
    if version != TOKENIZER_VERSION:
        return None
    lines = body.split("\n") if units else []
    if len(lines) != units or (not units and body):
        return None
    return [line.split(" ") if line else [] for line in lines]


def missing(entries: Sequence[Entry], stored: Mapping[str, str]) -> dict[str, str]:
    """Tokens for the entries with none stored by this tokenizer version, encoded."""
    return {e.id: entry_tokens(e) for e in entries if not current(stored.get(e.id, ""))}


def current(raw: str) -> bool:
    """Whether stored tokens were made by this tokenizer version."""
    return raw.startswith(f"{TOKENIZER_VERSION}\n")


def tokens_of(units: Sequence[IndexUnit]) -> list[list[str]]:
    return [tokenize(unit.text) for unit in units]


def entry_tokens(entry: Entry) -> str:
    """What to store for an entry: its units' tokens, encoded."""
    return encode(tokens_of(index_units(entry)))

"""Keyword tokens for Chinese shop text: jieba words, character bigrams and pinyin bigrams.

Customers type fast and wrong. Most Chinese typos come from the pinyin input method and are
homophones (保问杯 for 保温杯), and some customers type pinyin itself (baowenbei, tuihuo keyi
ma). So besides jieba's words (search mode, keeping sub-words of compounds) and overlapping
character bigrams (partial matches), every text also yields toneless pinyin syllable bigrams
("baowen", "wenbei"); Latin chunks that split cleanly into pinyin syllables yield the same.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+(?:\.[0-9]+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Particles and fillers that carry no topic; they still count in character and pinyin bigrams.
_STOPWORDS = frozenset(set("的了吗呢吧啊呀哦嘛么是我你他她它这那个在有和与就都也还能会要想亲"))
_STOPWORDS |= {"请问", "一下", "什么", "怎么", "可以"}
_MAX_SYLLABLE = 6  # "zhuang", "shuang"
_init_lock = threading.Lock()
_ready = False


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower case, collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def warm_up() -> None:
    """Load jieba's dictionary and the pinyin tables once (about a second)."""
    global _ready
    with _init_lock:
        if _ready:
            return
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _syllables()
        _ready = True


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable (ü written v), from pypinyin's bundled dictionary."""
    from pypinyin.pinyin_dict import pinyin_dict

    found = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = unicodedata.normalize("NFKD", reading.replace("ü", "v"))
            found.add("".join(c for c in plain if c.isascii()))
    return frozenset(s for s in found if s.isalpha())


def split_pinyin(chunk: str) -> list[str] | None:
    """Greedy longest-match split of a Latin chunk into pinyin syllables, or None."""
    syllables, pos = [], 0
    known = _syllables()
    while pos < len(chunk):
        for size in range(min(_MAX_SYLLABLE, len(chunk) - pos), 0, -1):
            if chunk[pos : pos + size] in known:
                syllables.append(chunk[pos : pos + size])
                pos += size
                break
        else:
            return None
    return syllables


@lru_cache(maxsize=8192)
def _pinyin_of(text: str) -> tuple[str, ...]:
    # pypinyin's phrase matching costs ~0.5 ms a chunk, and a query is tokenised by the KB and
    # the response bank alike: the second time is free.
    from pypinyin import lazy_pinyin

    return tuple(s.replace("ü", "v") for s in lazy_pinyin(text, v_to_u=False))


def _bigrams(items: list[str]) -> list[str]:
    return [items[i] + items[i + 1] for i in range(len(items) - 1)]


def tokenize(text: str) -> list[str]:
    import jieba

    warm_up()
    tokens: list[str] = []
    syllable_run: list[str] = []  # adjacent syllables, Chinese or typed, across chunks
    for chunk in _WORD.findall(normalize(text)):
        if _CJK.match(chunk):
            tokens.extend(w for w in jieba.lcut_for_search(chunk) if w not in _STOPWORDS)
            tokens.extend(_bigrams(list(chunk)))
            syllable_run.extend(_pinyin_of(chunk))
            continue
        tokens.append(chunk)
        typed = split_pinyin(chunk) if chunk.isalpha() else None
        if typed:
            syllable_run.extend(typed)
        else:
            tokens.extend(_bigrams(syllable_run))
            syllable_run = []
    tokens.extend(_bigrams(syllable_run))
    return tokens

"""Keyword tokens for Chinese shop text: jieba words plus character bigrams.

Customers type fast and wrong (保问杯, 退或), so exact jieba words alone miss; overlapping
character bigrams keep partial matches, and jieba's search mode keeps sub-words of compounds.
"""

from __future__ import annotations

import re
import threading
import unicodedata

_WORD = re.compile(r"[\u4e00-\u9fff]+|[a-z0-9]+(?:\.[0-9]+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "嘛",
        "么",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "这",
        "那",
        "个",
        "在",
        "有",
        "和",
        "与",
        "就",
        "都",
        "也",
        "还",
        "请问",
        "亲",
        "一下",
        "什么",
        "怎么",
        "可以",
        "能",
        "会",
        "要",
        "想",
    ]
)
_init_lock = threading.Lock()
_ready = False


def normalize(text: str) -> str:
    """NFKC (full-width to half-width), lower case, collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def warm_up() -> None:
    """Load jieba's dictionary once (about a second), so the first query is not slow."""
    global _ready
    with _init_lock:
        if _ready:
            return
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _ready = True


def tokenize(text: str) -> list[str]:
    import jieba

    warm_up()
    text = normalize(text)
    tokens: list[str] = []
    for chunk in _WORD.findall(text):
        if _CJK.match(chunk):
            tokens.extend(w for w in jieba.lcut_for_search(chunk) if w not in _STOPWORDS)
            tokens.extend(chunk[i : i + 2] for i in range(len(chunk) - 1))
        else:
            tokens.append(chunk)
    return tokens

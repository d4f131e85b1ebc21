"""Kind hints: words in a question that say which kind of entry answers it.

A price question is answered by the product record (it holds the price), a question about
deals by a promotion record, even when an FAQ about the same product reads more alike. The
hints act as one more ranker in the fusion, so they reorder candidates the retrievers found
and never add entries of their own.
"""

from __future__ import annotations

import re
from functools import lru_cache

KindHints = tuple[tuple[str, str], ...]  # (entry kind, regular expression)

DEFAULT_KIND_HINTS: KindHints = (
    ("product", r"多少钱|价格|价钱|啥价|什么价|几块钱|单价|贵不贵|售价|怎么卖"),
    ("promotion", r"优惠|活动|打折|折扣|满减|有券|优惠券|便宜点|减价|促销|划算"),
)


@lru_cache(maxsize=64)
def _compiled(hints: KindHints) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((kind, re.compile(pattern)) for kind, pattern in hints)


def hinted_kinds(query: str, hints: KindHints = DEFAULT_KIND_HINTS) -> frozenset[str]:
    return frozenset(kind for kind, pattern in _compiled(hints) if pattern.search(query))

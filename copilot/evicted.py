"""What the pipeline derives per shop (catalogs, guardrail facts, adopted intents) follows the
shop's KB index out of the byte-bounded index cache (kb/storage/shop_cache.py).

Each of those maps is rebuilt from the index on a miss, so it only needs the shops the index
cache holds; kept for every shop ever served, they would grow with the number of shops
however small the index cache's bound.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any


def forget_evicted(derived: MutableMapping[str, Any], held: Iterable[str]) -> None:
    """Drop the entries of shops no longer in `held` (the index cache's shops); call it when
    adding one, under the map's lock."""
    keep = set(held)
    for shop_id in [s for s in derived if s not in keep]:
        del derived[shop_id]

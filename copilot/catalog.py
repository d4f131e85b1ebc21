"""A shop's catalogue for grounding: products, active promotions, which product a conversation
is about."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal

from copilot.numbers import extract, normalize
from copilot.types import Conversation, Order
from kb.types import FAQ, Hit, Product, Promotion, Script

if TYPE_CHECKING:
    from kb.knowledge import KnowledgeBase

_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ASCII = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?[a-z]*")
_PURCHASE_UNITS = "个件只杯套双条瓶盒份支"
Focus = Literal["order", "message", "context", ""]


def _tokens(text: str) -> set[str]:
    """Character bigrams of Chinese runs plus ASCII words and their digits (750ml -> 750)."""
    text = normalize(text).lower()
    found: set[str] = set()
    for run in _CJK.findall(text):
        if len(run) == 1:
            found.add(run)
        found.update(run[i : i + 2] for i in range(len(run) - 1))
    for word in _ASCII.findall(text):
        found.add(word)
        digits = re.match(r"[0-9.]+", word)
        if digits:
            found.add(digits.group(0))
    return found


def _head(product: Product) -> str:
    """The last two characters of a title without its brackets: a Chinese title's head noun."""
    runs = _CJK.findall(re.sub(r"[(（][^)）]*[)）]", "", normalize(product.title)))
    return runs[-1][-2:] if runs else ""


def dice(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return 2 * len(ta & tb) / (len(ta) + len(tb)) if ta and tb else 0.0


@dataclass(frozen=True)
class Catalog:
    """One shop's records for grounding, with a product-mention index (idf over names)."""

    shop_id: str
    version: int
    products: Mapping[str, Product]
    promotions: tuple[Promotion, ...]
    faqs: Mapping[str, FAQ]
    scripts: tuple[Script, ...]
    _postings: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    _idf: Mapping[str, float] = field(default_factory=dict, repr=False)
    _heads: Mapping[str, str] = field(default_factory=dict, repr=False)
    # anchor product id -> its nearest products by embedding; lives as long as this version
    similar_products: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_entries(cls, shop_id: str, version: int, entries: Iterable[object]) -> Catalog:
        items = list(entries)
        products = {e.id: e for e in items if isinstance(e, Product)}
        names = {
            p.id: frozenset(_tokens(" ".join([p.title, p.category, *(v.name for v in p.variants)])))
            for p in products.values()
        }
        postings: dict[str, list[str]] = {}
        for pid, tokens in names.items():
            for token in tokens:
                postings.setdefault(token, []).append(pid)
        idf = {t: math.log(1 + len(products) / len(ids)) for t, ids in postings.items()}
        return cls(
            shop_id,
            version,
            products,
            tuple(e for e in items if isinstance(e, Promotion)),
            {e.id: e for e in items if isinstance(e, FAQ)},
            tuple(e for e in items if isinstance(e, Script)),
            {t: tuple(ids) for t, ids in postings.items()},
            idf,
            {pid: _head(product) for pid, product in products.items()},
        )

    def mentions(self, text: str) -> list[tuple[Product, float]]:
        """Products named in a text, by idf-weighted overlap with their names."""
        scores: dict[str, float] = {}
        tokens = _tokens(text)
        for token in tokens:
            for pid in self._postings.get(token, ()):
                scores[pid] = scores.get(pid, 0.0) + self._idf[token]
        named = {pid for pid in scores if self._heads.get(pid) in tokens}
        # Naming a title's head noun (保温杯 in 经典直身保温杯, not in 保温杯套) outranks sharing
        # other words with it.
        if named:
            scores = {pid: s for pid, s in scores.items() if pid in named}
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [(self.products[pid], score) for pid, score in ranked]

    def active_promotions(self, day: date, product_id: str | None = None) -> list[Promotion]:
        return [
            p
            for p in self.promotions
            if p.active_on(day) and (not p.product_ids or product_id in p.product_ids)
        ]


class CatalogCache:
    """Catalog per shop, rebuilt when the shop's KB version moves (it reuses the index snapshot)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._catalogs: dict[str, Catalog] = {}
        self._lock = threading.Lock()

    def get(self, shop_id: str) -> Catalog:
        index = self.kb.indexes.get(shop_id)
        cached = self._catalogs.get(shop_id)
        if cached is None or cached.version != index.version:
            cached = Catalog.from_entries(shop_id, index.version, index.entries.values())
            with self._lock:
                self._catalogs[shop_id] = cached
        return cached


@dataclass(frozen=True)
class ProductFocus:
    """The product the customer is talking about, or the ones they might mean."""

    product: Product | None = None
    variant: str | None = None
    quantity: int = 1
    source: Focus = ""
    ambiguous: tuple[Product, ...] = ()


def _resolve(text: str, catalog: Catalog) -> tuple[Product | None, tuple[Product, ...]]:
    scored = catalog.mentions(text)
    if not scored:
        return None, ()
    best = scored[0][1]
    close = tuple(p for p, s in scored if s >= 0.8 * best)
    return (close[0], ()) if len(close) == 1 else (None, close)


def product_focus(
    conversation: Conversation, catalog: Catalog, hits: Sequence[Hit] = ()
) -> ProductFocus:
    """From the latest customer message, then the order, then earlier turns (newest first).
    When the message could name several products, an FAQ it closely matches settles which."""
    text = conversation.last_customer_text
    product, ambiguous = _resolve(text, catalog)
    settled = _faq_product(text, hits, ambiguous)
    if settled is not None:
        product, ambiguous = settled, ()
    source: Focus = "message" if product else ""
    ordered = order_products(conversation.order, catalog)
    if product is None and ordered and not ambiguous:
        product, source = ordered[0], "order"
    if product is None:
        for turn in reversed(conversation.turns[-7:-1]):
            earlier, _ = _resolve(turn.text, catalog)
            if earlier is not None and (not ambiguous or earlier in ambiguous):
                product, source, ambiguous = earlier, "context", ()
                break
    if product is None:
        return ProductFocus(ambiguous=ambiguous)
    return ProductFocus(product, _variant(text, product), _quantity(text), source)


def _faq_product(text: str, hits: Sequence[Hit], among: Sequence[Product]) -> Product | None:
    for hit in hits:
        faq = hit.entry
        if isinstance(faq, FAQ) and faq.product_id and faq_similarity(text, faq) >= 0.5:
            return next((p for p in among if p.id == faq.product_id), None)
    return None


def faq_similarity(text: str, faq: FAQ) -> float:
    return max(dice(text, q) for q in (faq.question, *faq.alt_questions))


def order_products(order: Order | None, catalog: Catalog) -> list[Product]:
    if order is None:
        return []
    ids = dict.fromkeys(item.product_id for item in order.items)
    return [catalog.products[i] for i in ids if i in catalog.products]


def _variant(text: str, product: Product) -> str | None:
    lowered, tokens = normalize(text).lower(), _tokens(text)
    for variant in sorted(product.variants, key=lambda v: -len(v.name)):
        name = normalize(variant.name).lower()
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z])", lowered):
            return variant.name
    for variant in product.variants:
        digits = re.match(r"[0-9.]+", normalize(variant.name).lower())
        if digits and digits.group(0) in tokens:
            return variant.name
    return None


def _quantity(text: str) -> int:
    for m in extract(text):
        if m.unit == "count" and m.raw and (m.text[-1] in _PURCHASE_UNITS or "×" in m.text):
            return max(1, int(m.raw))
    return 1

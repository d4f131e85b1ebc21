"""What the guardrails check candidates against: each shop's facts and the other shops' names.

ShopFacts: every number, text and saying about money in one shop's KB. ShopTerms: the names,
titles and ids that identify a shop. OtherShopNames: every other shop's terms, indexed for a
fast scan of a candidate. GuardrailFacts caches them per shop and rebuilds a shop's only when its
KB version moves.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from copilot.evicted import forget_evicted
from copilot.text.figures import Mention, NumberFacts, extract, id_mention, money_mention, normalize
from kb.types import FAQ, Entry, Policy, Product, Promotion, Script

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from kb.source import KnowledgeSource

SENTENCE = re.compile(r"[^。！？!?；;\n]+")
REFUND = re.compile(r"退款|退钱|退您|退给|退还|退回|返还|全额退|退差价")
COMPENSATE = re.compile(r"赔|补偿|返现|红包|补贴|免单")


def squash(text: str) -> str:
    return re.sub(r"[\s，,。！？!?～~、]", "", normalize(text))


_SHOP_SUFFIX = re.compile(r"(?:官方)?(?:旗舰店|专营店|专卖店|营业网点|网点|小店|店铺|店)$")


@dataclass(frozen=True)
class ShopFacts:
    """What a shop's KB states: every number it mentions, its text, and its sayings about money."""

    shop_id: str
    version: int
    numbers: NumberFacts
    text: str  # all KB text, normalised and lower-cased, for substring checks
    squashed: str  # the same without spaces and punctuation, for clause look-ups
    backed_money: frozenset[Decimal]  # amounts the KB names in refund/compensation sentences
    products: TermIndex = field(default_factory=lambda: TermIndex({}))  # name -> product id
    prices: Mapping[str, frozenset[Decimal]] = field(default_factory=dict)  # product id -> prices
    promotions: tuple[Promotion, ...] = ()  # every one, live or not: the staleness check's

    @classmethod
    def from_entries(cls, shop_id: str, entries: Iterable[Entry], version: int = 0) -> ShopFacts:
        texts: list[str] = []
        mentions: list[Mention] = []
        products: list[Product] = []
        promotions: list[Promotion] = []
        for entry in entries:
            texts.extend(_entry_texts(entry))
            mentions.extend(_structured(entry))
            if isinstance(entry, Product):
                products.append(entry)
            elif isinstance(entry, Promotion):
                promotions.append(entry)
        # One pass over all texts (NUL never matches a pattern, so nothing spans two texts).
        mentions.extend(extract("\x00".join(texts)))
        text = normalize("\n".join(texts))
        prices = {
            p.id: frozenset([p.price, *(v.price for v in p.variants if v.price is not None)])
            for p in products
        }
        return cls(
            shop_id,
            version,
            NumberFacts.of(mentions),
            text.lower(),
            squash(text),
            _backed_money(text),
            TermIndex.of(_product_names(products)),
            prices,
            tuple(sorted(promotions, key=lambda p: p.id)),
        )


def _product_names(products: Sequence[Product]) -> dict[str, str]:
    """Each product's shortest title ending of 4 to 8 characters that no other title contains
    (身保温杯 for 316不锈钢经典直身保温杯): what any shortening of the title still contains."""
    titles = {p.id: re.sub(r"\([^)]*\)", "", normalize(p.title)).lower() for p in products}
    owner: dict[str, str] = {}  # substring -> the one title holding it, "" when several do
    for pid, title in titles.items():
        for size in range(4, 9):
            for start in range(len(title) - size + 1):
                part = title[start : start + size]
                owner[part] = pid if owner.get(part, pid) == pid else ""
    names = {}
    for pid, title in titles.items():
        endings = (title[-size:] for size in range(4, min(8, len(title)) + 1))
        ending = next((e for e in endings if owner[e] == pid), None)
        if ending:
            names[ending] = pid
    return names


def _entry_texts(entry: Entry) -> list[str]:
    if isinstance(entry, Product):
        variants = [v.name for v in entry.variants]
        return [entry.title, entry.usage_notes, entry.category, *entry.selling_points, *variants]
    if isinstance(entry, FAQ):
        return [entry.question, entry.answer, *entry.alt_questions]
    if isinstance(entry, Policy):
        return [entry.title, entry.content]
    if isinstance(entry, Promotion):
        return [entry.title, entry.rule_text, entry.description]
    if isinstance(entry, Script):
        return [entry.title, entry.text]
    return []


def _structured(entry: Entry) -> list[Mention]:
    """Numbers held in fields rather than in text: prices, rule figures, dates, ids."""
    found = [id_mention(entry.id)]
    if isinstance(entry, Product):
        prices = [entry.price, *(v.price for v in entry.variants if v.price is not None)]
        found += [money_mention(p) for p in prices]
    if isinstance(entry, Promotion):
        rule = entry.rule
        found += [money_mention(a) for a in (rule.threshold, rule.amount) if a is not None]
        if rule.percent is not None:
            found.append(Mention("ratio", rule.percent, entry.rule_text))
        if rule.min_items is not None:
            found.append(Mention("plain", Decimal(rule.min_items), "", raw=Decimal(rule.min_items)))
        days = [d for d in (entry.starts, entry.ends) if d is not None]
        found += [Mention("date", (d.year, d.month, d.day), "", raw=Decimal(d.day)) for d in days]
    return found


def _backed_money(text: str) -> frozenset[Decimal]:
    backed: set[Decimal] = set()
    for sentence in SENTENCE.findall(text):
        if REFUND.search(sentence) or COMPENSATE.search(sentence):
            backed.update(
                m.value
                for m in extract(sentence)
                if m.kind == "money" and isinstance(m.value, Decimal)
            )
    return frozenset(backed)


@dataclass(frozen=True)
class TermIndex:
    """Lower-cased terms indexed by their first two characters: a reply is scanned once,
    however many terms there are."""

    terms: Mapping[str, str]  # term -> what it names (a shop id, a product id)
    by_prefix: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, terms: Mapping[str, str]) -> Self:
        by_prefix: dict[str, list[str]] = {}
        for term in sorted(terms, key=len, reverse=True):
            by_prefix.setdefault(term[:2], []).append(term)
        return cls(dict(terms), {k: tuple(v) for k, v in by_prefix.items()})

    def find(self, text: str) -> list[tuple[str, str]]:
        lowered, i = normalize(text).lower(), 0
        found: dict[str, str] = {}
        while i < len(lowered) - 1:
            for term in self.by_prefix.get(lowered[i : i + 2], ()):
                end = i + len(term)
                if lowered.startswith(term, i) and _bounded(lowered, i, end):
                    found.setdefault(term, self.terms[term])
                    i = end - 1
                    break
            i += 1
        return list(found.items())


class OtherShopNames(TermIndex):
    """Other shops' distinctive names, product titles and ids."""

    @classmethod
    def build(cls, own: ShopFacts, others: Iterable[ShopTerms]) -> OtherShopNames:
        terms: dict[str, str] = {}
        for shop in others:
            if shop.shop_id == own.shop_id:
                continue
            for term in map(str.lower, shop.terms):
                # A phrase this shop's own KB uses is common ground, not another shop's.
                if term not in own.text:
                    terms.setdefault(term, shop.shop_id)
        return cls.of(terms)


def _bounded(text: str, start: int, end: int) -> bool:
    """An id such as ks-p01 must not be part of a longer one (ks-p012)."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (
        (text[start].isascii() and (before.isascii() and (before.isalnum() or before == "-")))
        or (text[end - 1].isascii() and after.isascii() and after.isalnum())
    )


@dataclass(frozen=True)
class ShopTerms:
    """One shop's names that must not appear in another shop's replies."""

    shop_id: str
    version: int
    terms: tuple[str, ...]

    @classmethod
    def from_entries(
        cls, shop_id: str, entries: Iterable[Entry], version: int = 0, shop_name: str = ""
    ) -> ShopTerms:
        terms: list[str] = []
        for entry in entries:
            if isinstance(entry, Product):
                terms.append(entry.id)
                terms.extend(_distinctive(entry.title))
        if shop_name:
            # Chinese shop names lead with the brand: 暖阳衣橱服饰 -> 暖阳衣橱.
            short = _SHOP_SUFFIX.sub("", shop_name)
            brand = shop_name[:4] if len(shop_name) >= 6 else ""
            terms += [t for t in (shop_name, short, brand) if len(t) >= 4]
        return cls(shop_id, version, tuple(dict.fromkeys(terms)))


def _distinctive(title: str) -> list[str]:
    """A title and its bracketed parts; short ones (上门取件, 保价服务) are everyday words."""
    title = normalize(title)
    parts = [
        title,
        re.sub(r"[(（][^)）]*[)）]", "", title),
        *re.findall(r"[(（]([^)）]+)[)）]", title),
    ]
    return [p.strip() for p in parts if len(p.strip()) >= 5]


class GuardrailFacts:
    """ShopFacts and OtherShopNames per shop, rebuilt only when a shop's KB version moves."""

    def __init__(self, kb: KnowledgeSource, shop_names: Mapping[str, str] | None = None) -> None:
        self.kb = kb
        self.shop_names = dict(shop_names or {})
        self._facts: dict[str, ShopFacts] = {}
        self._terms: dict[str, ShopTerms] = {}
        self._others: dict[str, tuple[tuple[tuple[str, int], ...], OtherShopNames]] = {}
        self._memos: dict[str, tuple[ShopFacts, OtherShopNames, dict[Any, Any]]] = {}
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Build the shops' facts now (a 10k-entry shop takes seconds), as many as the index
        cache holds; idempotent. A shop whose knowledge cannot be read is logged and left to
        its requests: one damaged key must not keep the service from starting."""
        for shop_id in self.kb.warm(self.kb.shops()):
            try:
                self.other_shops(shop_id)
            except Exception as exc:  # whatever the damage, the other shops still warm up
                log.warning("guardrail facts of shop %r not built at start-up: %r", shop_id, exc)

    def shop_facts(self, shop_id: str) -> ShopFacts:
        index = self.kb.index(shop_id)
        cached = self._facts.get(shop_id)
        if cached is None or cached.version != index.version:
            cached = ShopFacts.from_entries(shop_id, index.entries.values(), index.version)
            with self._lock:
                held = self.kb.held()
                for derived in (self._facts, self._others, self._memos):
                    forget_evicted(derived, held)  # each holds every other shop's names
                self._facts[shop_id] = cached
        return cached

    def other_shops(self, shop_id: str) -> OtherShopNames:
        own = self.shop_facts(shop_id)
        versions = tuple(self.kb.versions(self.kb.shops()).items())
        key = ((shop_id, own.version), *versions)
        cached = self._others.get(shop_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        terms = [self._shop_terms(s, v) for s, v in versions if s != shop_id]
        names = OtherShopNames.build(own, terms)
        with self._lock:
            self._others[shop_id] = (key, names)
        return names

    def memo(self, facts: ShopFacts, others: OtherShopNames) -> dict[Any, Any]:
        """Where apply_guardrails keeps the flags it found with these facts: one per shop, new
        as soon as either object is replaced (a KB write here or in another shop)."""
        held = self._memos.get(facts.shop_id)
        if held is None or held[0] is not facts or held[1] is not others:
            held = (facts, others, {})
            with self._lock:
                self._memos[facts.shop_id] = held
        return held[2]

    def _shop_terms(self, shop_id: str, version: int) -> ShopTerms:
        cached = self._terms.get(shop_id)
        if cached is None or cached.version != version:
            entries = self.kb.entries(shop_id)
            name = self.shop_names.get(shop_id, "")
            cached = ShopTerms.from_entries(shop_id, entries, version, name)
            with self._lock:
                self._terms[shop_id] = cached
        return cached

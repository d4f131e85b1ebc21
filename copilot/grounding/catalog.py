"""A shop's catalogue for grounding: products, active promotions, FAQs, and the index naming
products in a text (which product a conversation is about is focus.py's)."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from copilot.evicted import forget_evicted
from copilot.grounding.rare_words import RareWordIndex
from copilot.text.figures import normalize
from kb.types import FAQ, Policy, Product, Promotion, Script

if TYPE_CHECKING:
    from kb.source import KnowledgeSource

_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ASCII = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?[a-z]*")
DEFAULT_FAQ_GATE = 0.25  # a shop with too few FAQs to calibrate on
# "299那款", "199的那个", "那个129的": a number said as a product's name (only a number that is
# a price in the catalog counts)
_PRICE_NAME = re.compile(
    r"(?<![\d.])(\d{2,5})(?:元|块)?(?:的?(?:那款|那个|那种|这款|这个|那))"
    r"|(?:那款|那个|这款|这个)(\d{2,5})(?:元|块)?的"
    r"|(?<![\d.满减送第])(\d{2,5})(?:元|块)?的(?=[\u4e00-\u9fff])"  # "59的打底衫"
)


def prices_said(text: str) -> set[Decimal]:
    """The numbers a customer names products by ("299那款", "59的打底衫"), prices or not."""
    return {Decimal(a or b or c) for a, b, c in _PRICE_NAME.findall(normalize(text))}


def tokens_of(text: str) -> set[str]:
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


def name_tokens(product: Product) -> set[str]:
    """The tokens of a product's title and option names: they say which product, not what
    about it is asked."""
    return tokens_of(" ".join([product.title, *(v.name for v in product.variants)]))


def _head(product: Product) -> str:
    """A Chinese title's head noun: the last two characters of its first word group without
    brackets (保温杯 in 经典直身保温杯; 猫粮 in "幼猫粮 鸡肉蛋黄配方", not 配方)."""
    title = re.sub(r"[(（][^)）]*[)）]", "", normalize(product.title))
    groups = [g for g in title.split() if _CJK.search(g)]
    runs = _CJK.findall(groups[0]) if groups else []
    return runs[-1][-2:] if runs else ""


_NAME_SPAN = 3  # shorter runs of a title are words any message may hold


def _title_spans(title: str) -> tuple[str, ...]:
    spans = {
        (j - i, -i, title[i:j])
        for i in range(len(title))
        for j in range(i + _NAME_SPAN, len(title) + 1)
    }
    return tuple(dict.fromkeys(span for _, _, span in sorted(spans, reverse=True)))


def dice(a: str, b: str) -> float:
    ta, tb = tokens_of(a), tokens_of(b)
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
    # product id -> its customer clauses and their vectors (clause_match); lives as long
    clause_vectors: dict[str, tuple[list[str], Any]] = field(default_factory=dict, repr=False)
    # (FAQ id, day) -> its answer is stale that day; lives as long as this version
    stale_faqs: dict[tuple[str, date], bool] = field(default_factory=dict, repr=False)
    # lexical similarity an FAQ needs with the message when nothing else vouches for it
    faq_gate: float = DEFAULT_FAQ_GATE
    policies: tuple[Policy, ...] = ()
    rare_words: RareWordIndex = field(default_factory=RareWordIndex, repr=False)
    # each product title's runs of three or more characters, longest first (blank_names)
    _name_spans: tuple[tuple[str, ...], ...] = field(default=(), repr=False)

    @classmethod
    def from_entries(cls, shop_id: str, version: int, entries: Iterable[object]) -> Catalog:
        items = list(entries)
        products = {e.id: e for e in items if isinstance(e, Product)}
        names = {p.id: frozenset(name_tokens(p) | tokens_of(p.category)) for p in products.values()}
        postings: dict[str, list[str]] = {}
        for pid, tokens in names.items():
            for token in tokens:
                postings.setdefault(token, []).append(pid)
        idf = {t: math.log(1 + len(products) / len(ids)) for t, ids in postings.items()}
        catalog = cls(
            shop_id,
            version,
            products,
            tuple(
                _scoped(e, products)
                for e in items
                if isinstance(e, Promotion) and not agents_only(e)
            ),
            {e.id: e for e in items if isinstance(e, FAQ)},
            tuple(e for e in items if isinstance(e, Script)),
            {t: tuple(ids) for t, ids in postings.items()},
            idf,
            {pid: _head(product) for pid, product in products.items()},
            faq_gate=calibrated_faq_gate([e for e in items if isinstance(e, FAQ)]),
            policies=tuple(e for e in items if isinstance(e, Policy)),
            rare_words=RareWordIndex.build([e for e in items if isinstance(e, FAQ)], tokens_of),
            _name_spans=tuple(_title_spans(p.title) for p in products.values()),
        )
        promotions = tuple(_leaving_out(promo, catalog) for promo in catalog.promotions)
        return replace(catalog, promotions=promotions)

    def blank_names(self, text: str) -> str:
        """`text` with every run of three or more characters out of a product title blanked:
        "破壁机用了4个月" speaks of a product, not of something broken (破)."""
        for spans in self._name_spans:
            for span in spans:
                if span in text:
                    text = text.replace(span, " ")
        return text

    def mentions(self, text: str, *, by_head: bool = True) -> list[tuple[Product, float]]:
        """Products named in a text, by idf-weighted overlap with their names; `by_head`: only
        those whose head noun it says, when it says any."""
        scores: dict[str, float] = {}
        tokens = tokens_of(text)
        for token in tokens:
            for pid in self._postings.get(token, ()):
                scores[pid] = scores.get(pid, 0.0) + self._idf[token]
        named = {pid for pid in scores if self._heads.get(pid) in tokens}
        # Naming a title's head noun (保温杯 in 经典直身保温杯, not in 保温杯套) outranks sharing
        # other words with it.
        if named and by_head:
            scores = {pid: s for pid, s in scores.items() if pid in named}
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [(self.products[pid], score) for pid, score in ranked]

    def named_by_head(self, text: str) -> set[str]:
        """Ids of the products a text names by their id or their title's head noun ("破壁机电机5年"
        names the 静音破壁机): stricter than `mentions`, which any shared word will do."""
        said = normalize(text)
        heads = self._heads.items()
        return {pid for pid, head in heads if pid in said or (len(head) > 1 and head in said)}

    def priced_at(self, text: str) -> tuple[Product, ...]:
        """Products a customer names by their price: "299那款", "199的那个"."""
        return self.priced(prices_said(text))

    def priced(self, asked: set[Decimal]) -> tuple[Product, ...]:
        """Products (or one of their options) at one of these prices."""
        if not asked:
            return ()
        return tuple(
            p for p in self.products.values()
            if asked & {p.price, *(v.price for v in p.variants if v.price is not None)}
        )  # fmt: skip

    def active_promotions(self, day: date, product_id: str | None = None) -> list[Promotion]:
        return [
            p
            for p in self.promotions
            if p.active_on(day) and (not p.product_ids or product_id in p.product_ids)
        ]


def _scoped(promo: Promotion, products: Mapping[str, Product]) -> Promotion:
    """A promotion row with no products column may still say whose it is: "水壶（KA-KT1、
    KA-KT2）下单送保温杯" is the kettles' gift, not the air fryer's. Product ids are exact; a
    text that also says 全场/全店 is for the whole shop."""
    text = f"{promo.title} {promo.rule_text} {promo.description}"
    if promo.product_ids or _WHOLE_SHOP.search(text):
        return promo
    named = tuple(
        pid for pid in sorted(products)
        if re.search(rf"(?<![A-Za-z0-9-]){re.escape(pid)}(?![A-Za-z0-9-])", text, re.I)
    )  # fmt: skip
    return replace(promo, product_ids=named) if named else promo


def _leaving_out(promo: Promotion, catalog: Catalog) -> Promotion:
    """A whole-shop deal whose remark says a product takes no part ("电动童车不参加满减") is
    every other product's: a quote for the electric car must not take 满199减40 off."""
    if promo.product_ids:
        return promo
    left_out: set[str] = set()
    for clause in _CLAUSE_END.split(f"{promo.rule_text}\n{promo.description}"):
        taking_no_part = _NOT_TAKING_PART.match(clause.strip())
        named = resolve_product(taking_no_part.group(1), catalog)[0] if taking_no_part else None
        left_out |= {named.id} if named is not None else set()
    if not left_out:
        return promo
    return replace(promo, product_ids=tuple(p for p in catalog.products if p not in left_out))


_CLAUSE_END = re.compile(r"[\n。；;，,！!]")
# "电动童车不参加满减": not "不参与价保" (the price guarantee is another matter)
_NOT_TAKING_PART = re.compile(r"^(.+?)(?:不参加|不参与)(?:满减|本?活动|优惠)?[!！]*$")
_WHOLE_SHOP = re.compile(r"全场|全店|全部商品|所有商品|店铺通用|全品")
# "5元无门槛券…只用于发货超时安抚（别主动拿出来发）": the agents' to give, never offered unasked
_AGENTS_ONLY = re.compile(r"别主动|不要主动|不主动|安抚")
# "新客首单立减5元": a product's "现在可享" says it only to a customer who says they are new
_NEWCOMERS_ONLY = re.compile(r"新客|新用户|新人|首单|新粉|首次购买")


def agents_only(promo: Promotion) -> bool:
    return bool(_AGENTS_ONLY.search(f"{promo.title} {promo.rule_text} {promo.description}"))


def newcomers_only(promo: Promotion) -> bool:
    return bool(_NEWCOMERS_ONLY.search(f"{promo.title} {promo.rule_text}"))


class CatalogCache:
    """Catalog per shop, rebuilt when the shop's KB version moves (it reuses the index snapshot)."""

    def __init__(self, kb: KnowledgeSource) -> None:
        self.kb = kb
        self._catalogs: dict[str, Catalog] = {}
        self._lock = threading.Lock()

    def get(self, shop_id: str) -> Catalog:
        index = self.kb.index(shop_id)
        cached = self._catalogs.get(shop_id)
        if cached is None or cached.version != index.version:
            cached = Catalog.from_entries(shop_id, index.version, index.entries.values())
            with self._lock:
                forget_evicted(self._catalogs, self.kb.held())
                self._catalogs[shop_id] = cached
        return cached


# a promotion's rule in a message (满199减30, 8.5折) names no product: its digits are not sizes;
# nor does a weight or height ("95斤拍s" names no 95白鹅绒羽绒服)
_RULE_SPAN = re.compile(
    r"满\d+(?:\.\d+)?[元块]?减\d+(?:\.\d+)?|\d+(?:\.\d+)?折|[立直]减\d+(?:\.\d+)?"
    r"|\d+(?:\.\d+)?\s*(?:斤|公斤|kg|cm|厘米)(?![a-z\d])"
)
# nor an amount of money ("领了个3块的券" is not 3颗香芯); "199元那个" is read by priced_at
_MONEY = re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:块钱?|元)")


def resolve_product(text: str, catalog: Catalog) -> tuple[Product | None, tuple[Product, ...]]:
    text = _RULE_SPAN.sub(" ", normalize(text))
    named = _MONEY.sub(" ", text)
    scored = catalog.mentions(named)
    priced = catalog.priced_at(text)
    if not scored:
        return (priced[0], ()) if len(priced) == 1 else (None, priced)
    # "129的降噪耳机" when both earphones share 耳机: the price says which, among the products
    # the words name at all (a brand-first title's head noun may be its brand)
    if priced:
        named_and_priced = [
            (p, s) for p, s in catalog.mentions(named, by_head=False) if p in priced
        ]
        scored = named_and_priced or scored
    best = scored[0][1]
    close = tuple(p for p, s in scored if s >= 0.8 * best)
    if len(close) > 1:  # "s3 pro续航": the S3 Pro, not the heads whose title says (S1/S3 Pro通用)
        said = tokens_of(text)
        outside = tuple(p for p in close if said & _unbracketed_tokens(p))
        close = outside if len(outside) == 1 else close
    return (close[0], ()) if len(close) == 1 else (None, close)


def naming_tokens(text: str) -> set[str]:
    """The tokens a text names products by: without a promotion's rule, a weight or money."""
    return tokens_of(_MONEY.sub(" ", _RULE_SPAN.sub(" ", normalize(text))))


def _unbracketed_tokens(product: Product) -> set[str]:
    """A title's words outside its brackets: "替换刷头（S1/S3 Pro通用）" is not named by S3 Pro."""
    title = re.sub(r"[(（][^)）]*[)）]", " ", product.title)
    return tokens_of(" ".join([title, *(v.name for v in product.variants)]))


def faq_similarity(text: str, faq: FAQ) -> float:
    return max(dice(text, q) for q in (faq.question, *faq.alt_questions))


_GATE_BOUNDS = (0.15, 0.3)
_GATE_SAMPLE = 300  # FAQs compared pairwise: the calibration stays well under a second


def calibrated_faq_gate(faqs: Sequence[FAQ]) -> float:
    """The FAQ gate of one shop, from its own FAQs: the lexical similarity that 90% of its
    questions stay under with the nearest *other* FAQ of the shop. A shop whose FAQs all say
    能用多久 or 杯 needs more overlap before overlap alone means "this FAQ"; within bounds, and
    the default below 8 FAQs."""
    sample = sorted(faqs, key=lambda f: f.id)[:_GATE_SAMPLE]
    if len(sample) < 8:
        return DEFAULT_FAQ_GATE
    tokens = {f.id: [tokens_of(q) for q in (f.question, *f.alt_questions)] for f in sample}
    nearest_other = [
        max(_dice_sets(tokens[f.id][0], q) for g in sample if g is not f for q in tokens[g.id])
        for f in sample
    ]
    low, high = _GATE_BOUNDS
    return round(min(high, max(low, _quantile(nearest_other, 0.9))), 3)


def _dice_sets(a: set[str], b: set[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

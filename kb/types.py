"""Domain types of the knowledge base: entries of five kinds, search hits, shop statistics.

Every entry belongs to exactly one shop and has an id that is stable across imports (given in
the file, or derived from its content), so a re-import updates rather than duplicates.
Money is `Decimal`: prices and promotion math are computed in code, never by a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal, TypeAlias

EntryKind: TypeAlias = Literal["product", "faq", "policy", "promotion", "script"]
ENTRY_KINDS: tuple[EntryKind, ...] = ("product", "faq", "policy", "promotion", "script")

PolicyTopic: TypeAlias = str  # shipping, returns, exchange, compensation, invoice, other ...
POLICY_TOPICS: tuple[str, ...] = (
    "shipping",
    "returns",
    "exchange",
    "compensation",
    "invoice",
    "price_protection",
    "warranty",
    "other",
)


@dataclass(frozen=True)
class Variant:
    """One purchasable variant of a product (size, colour, capacity); price overrides the base."""

    name: str
    price: Decimal | None = None


@dataclass(frozen=True)
class Product:
    shop_id: str
    id: str
    title: str
    price: Decimal
    variants: tuple[Variant, ...] = ()
    selling_points: tuple[str, ...] = ()
    usage_notes: str = ""
    in_stock: bool = True
    related: tuple[str, ...] = ()
    category: str = ""
    kind: ClassVar[EntryKind] = "product"


@dataclass(frozen=True)
class FAQ:
    shop_id: str
    id: str
    question: str
    answer: str
    alt_questions: tuple[str, ...] = ()
    product_id: str | None = None
    intent: str = ""
    kind: ClassVar[EntryKind] = "faq"


@dataclass(frozen=True)
class Policy:
    shop_id: str
    id: str
    topic: PolicyTopic
    title: str
    content: str
    kind: ClassVar[EntryKind] = "policy"


# "other": a rule we cannot compute (第二件半价, 秒杀价59.9元): listed and dated, never computed.
PromotionType: TypeAlias = Literal["threshold", "percent", "direct", "coupon", "other"]


@dataclass(frozen=True)
class PromotionRule:
    """A promotion rule parsed from trainer text such as 满199减20, 8折, 满2件9折, 立减10元.

    threshold: order amount (yuan) that unlocks `amount` off (满减, coupon).
    min_items: item count that unlocks `percent` (满N件M折).
    percent: price multiplier, e.g. Decimal("0.8") for 8折.
    amount: yuan off (满减, 立减, coupon face value).
    """

    type: PromotionType
    threshold: Decimal | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None
    min_items: int | None = None


@dataclass(frozen=True)
class Promotion:
    shop_id: str
    id: str
    title: str
    rule_text: str
    rule: PromotionRule
    product_ids: tuple[str, ...] = ()  # empty: the whole shop
    starts: date | None = None
    ends: date | None = None
    description: str = ""
    kind: ClassVar[EntryKind] = "promotion"

    def active_on(self, day: date) -> bool:
        return (self.starts is None or self.starts <= day) and (
            self.ends is None or day <= self.ends
        )


@dataclass(frozen=True)
class Script:
    """A reply script (话术) for an intent or situation, written by a trainer."""

    shop_id: str
    id: str
    intent: str
    title: str
    text: str
    kind: ClassVar[EntryKind] = "script"


Entry: TypeAlias = Product | FAQ | Policy | Promotion | Script


@dataclass(frozen=True)
class IndexUnit:
    """One piece of text indexed for an entry (an FAQ phrasing, a product title, ...)."""

    entry_id: str
    field: str
    text: str


@dataclass(frozen=True)
class RetrieverScore:
    score: float
    rank: int  # 1-based rank among this retriever's hits


@dataclass(frozen=True)
class Hit:
    """A retrieved entry with its fused score and what each retriever said about it."""

    entry: Entry
    score: float
    matched_text: str
    matched_field: str
    retrievers: Mapping[str, RetrieverScore] = field(default_factory=dict, hash=False)

    @property
    def entry_id(self) -> str:
        return self.entry.id

    @property
    def kind(self) -> EntryKind:
        return self.entry.kind


@dataclass(frozen=True)
class ShopStats:
    shop_id: str
    version: int
    counts: Mapping[str, int] = field(hash=False)
    units: int = 0
    embedding_model: str = ""

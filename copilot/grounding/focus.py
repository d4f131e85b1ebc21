"""Which product a conversation is about: named in the latest message (by its words or its
price), else the order's, else the one named in earlier turns; the option and quantity said."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from copilot.grounding.catalog import (
    Catalog,
    faq_similarity,
    name_tokens,
    naming_tokens,
    resolve_product,
    tokens_of,
)
from copilot.grounding.option_names import has_option_word, option_named
from copilot.text.figures import extract
from copilot.types import Conversation, Order
from kb.types import FAQ, Hit, Product

_PURCHASE_UNITS = "个件只杯套双条瓶盒份支袋包罐箱桶"
Focus = Literal["order", "message", "context", ""]
_EARLIER_TURNS = 6  # the turns before the message read for the product it speaks of


@dataclass(frozen=True)
class ProductFocus:
    """The product the customer is talking about, or the ones they might mean."""

    product: Product | None = None
    variant: str | None = None
    quantity: int = 1
    source: Focus = ""
    ambiguous: tuple[Product, ...] = ()


def product_focus(
    conversation: Conversation, catalog: Catalog, hits: Sequence[Hit] = ()
) -> ProductFocus:
    """From the latest customer message, then the order, then earlier turns (newest first).
    When the message could name several products, an FAQ it closely matches settles which."""
    text = conversation.last_customer_text
    product, ambiguous = resolve_product(text, catalog)
    settled = _faq_product(text, hits, ambiguous)
    if settled is not None:
        product, ambiguous = settled, ()
    source: Focus = "message" if product else ""
    earlier = _earlier_with_option(conversation, catalog, product) if product else None
    product, source = (earlier, "context") if earlier else (product, source)
    ordered = order_products(conversation.order, catalog)
    if product is None and ordered and not ambiguous:
        product, source = ordered[0], "order"
    if product is None:
        for turn in reversed(conversation.turns[-_EARLIER_TURNS - 1 : -1]):
            earlier, among = resolve_product(turn.text, catalog)
            if earlier is None and ambiguous:  # "4L的" after "炸锅…": the 4L air fryer
                both = [p for p in among if p in ambiguous]
                earlier = both[0] if len(both) == 1 else None
            if earlier is not None and (not ambiguous or earlier in ambiguous):
                product, source, ambiguous = earlier, "context", ()
                break
    if product is None:
        return ProductFocus(ambiguous=ambiguous)
    variant = option_named(text, product, tokens_of(text))
    return ProductFocus(product, variant, _quantity(text), source)


def _earlier_with_option(
    conversation: Conversation, catalog: Catalog, product: Product
) -> Product | None:
    """ "粉色的啥时候有货" after "扭扭车": the 扭扭车's 粉 option, not another product with a 粉色
    one. A message naming a product by an option word alone speaks of the product named before,
    when that product has the option."""
    said = naming_tokens(conversation.last_customer_text)
    if said & tokens_of(f"{product.title} {product.category}"):
        return None
    words = said & name_tokens(product)
    for turn in reversed(conversation.turns[-_EARLIER_TURNS - 1 : -1]):
        earlier, _ = resolve_product(turn.text, catalog)
        if earlier is not None:
            return earlier if earlier != product and has_option_word(earlier, words) else None
    return None


def _faq_product(text: str, hits: Sequence[Hit], among: Sequence[Product]) -> Product | None:
    for hit in hits:
        faq = hit.entry
        if isinstance(faq, FAQ) and faq.product_id and faq_similarity(text, faq) >= 0.5:
            return next((p for p in among if p.id == faq.product_id), None)
    return None


def order_products(order: Order | None, catalog: Catalog) -> list[Product]:
    if order is None:
        return []
    ids = dict.fromkeys(item.product_id for item in order.items)
    return [catalog.products[i] for i in ids if i in catalog.products]


def _quantity(text: str) -> int:
    for m in extract(text):
        if m.unit == "count" and m.raw and (m.text[-1] in _PURCHASE_UNITS or "×" in m.text):
            return max(1, int(m.raw))
    return 1

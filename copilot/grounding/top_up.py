"""What to add to an order to reach a running spend threshold (凑单): "我购物车55块 / 那差4块
有啥便宜的能凑一下", "座套159 加个香薰25.9 凑不到199 / 还差多少啊 有啥推荐凑的", "差一毛钱满169啊
有办法吗".

The sum is the customer's own: a gap said with its threshold (差一毛钱满169), else the amounts
they list (购物车55块; 159 and 25.9). The threshold is the one they name, else the lowest running
one above the sum, and must be a running 满减 or coupon of the shop. The reply says the gap and
the options in the deal's scope, in stock, that close it for least (up to three of one: two
¥2.5 pens before one ¥8.8 pencil), with the new sum and what is paid after the deal: all
computed here and returned for the guardrails. Nothing is said when
the sum is not the customer's (the agent sees the cart; this copilot does not) or already
reaches the threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import product_evidence, promo_evidence
from copilot.grounding.promotions import QuoteLine, price_cuts, yuan
from copilot.grounding.stock_notes import out_of_stock_line
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source
from kb.types import Product, Promotion

_ASKS = re.compile(
    r"凑|还差多少|差.{0,16}(?:有啥|有什么|推荐|办法|加啥|加什么|买啥|买什么|怎么办|咋办)"
)
_NUMBER = r"\d+(?:\.\d+)?"
_TARGET = re.compile(rf"(?:满|凑不?到|够)\s*({_NUMBER})")
_GAP = re.compile(rf"差\s*({_NUMBER}|[一两二三四五六七八九十])\s*(块|元|毛|角)")
_CN = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2}
# an amount of money: not a quantity (2支, 500ml), a date, a size, or a deal's own figure (减10)
_AMOUNT = re.compile(
    rf"(?<![\d.月/\-减折送第])({_NUMBER})(?![\d.]|\s*(?:[号日月点斤克个片天年岁码支件盒瓶包双张份只g折%]"
    r"|ml|cm|mm|kg))"
)
_FILLERS = 2
_MOST_OF_ONE = 3


def top_up_answer(
    conversation: Conversation, catalog: Catalog, day: date
) -> tuple[Candidate, tuple[Decimal, ...]] | None:
    """The gap to a running threshold and the options that close it for least, with the numbers
    computed (see the module docstring); None when the message asks no such thing or the sum
    or the threshold is unknown."""
    if not _ASKS.search(normalize(conversation.last_customer_text)):
        return None
    said = normalize("，".join(conversation.customer_texts[-3:]))
    total, target = _sum_said(said)
    if total is None:
        return None
    deal = _deal(catalog.promotions, day, total, target)
    if deal is None or deal.rule.threshold is None or deal.rule.amount is None:
        return None
    gap = deal.rule.threshold - total
    fillers = _fillers(catalog, deal, gap, said, day)
    if not fillers:
        return None
    return _candidate(total, gap, deal, fillers)


def _sum_said(text: str) -> tuple[Decimal | None, Decimal | None]:
    """The sum the customer's figures give, and the threshold they name."""
    targets = [Decimal(m.group(1)) for m in _TARGET.finditer(text)]
    target = targets[-1] if targets else None
    gap = _gap(text)
    if gap is not None and target is not None:
        return target - gap, target
    rest = _GAP.sub(" ", _TARGET.sub(" ", text))
    amounts = [Decimal(m.group(1)) for m in _AMOUNT.finditer(rest)]
    if not amounts:
        return None, target
    total = sum(amounts, Decimal(0))
    return total, target if target is not None else (total + gap if gap is not None else None)


def _gap(text: str) -> Decimal | None:
    found = _GAP.search(text)
    if found is None:
        return None
    number, unit = found.groups()
    value = Decimal(number) if number[0].isdigit() else Decimal(_CN[number])
    return value / 10 if unit in ("毛", "角") else value


def _deal(
    promotions: Sequence[Promotion], day: date, total: Decimal, target: Decimal | None
) -> Promotion | None:
    """The running 满减 or coupon at the threshold named, else the lowest one above the sum."""
    running = [
        p for p in promotions
        if p.active_on(day) and p.rule.type in ("threshold", "coupon")
        and p.rule.threshold is not None and p.rule.amount and p.rule.threshold > total
    ]  # fmt: skip
    if target is not None:
        running = [p for p in running if p.rule.threshold == target]
    return min(running, key=lambda p: (p.rule.threshold, -(p.rule.amount or 0)), default=None)


@dataclass(frozen=True)
class _Filler:
    product: Product
    line: QuoteLine  # two ¥2.5 pens close a ¥4 gap for less than one ¥8.8 pencil

    @property
    def said(self) -> str:
        count = self.line.quantity
        return f"{self.line.label}{yuan(self.line.unit_price)}" + (f"×{count}" if count > 1 else "")


def _fillers(
    catalog: Catalog, deal: Promotion, gap: Decimal, said: str, day: date
) -> list[_Filler]:
    """The options (one per product, up to three of it) in the deal's scope and in stock that
    close the gap for least, leaving out the products the customer already named and those
    whose price a running deal cuts (their list price is not what is paid)."""
    named = catalog.named_by_head(said)
    running = [p for p in catalog.promotions if p.active_on(day)]
    found = []
    for product in catalog.products.values():
        if product.id in named or not product.in_stock:
            continue
        if deal.product_ids and product.id not in deal.product_ids:
            continue
        options = [(v.name, v.price if v.price is not None else product.price)
                   for v in product.variants] or [("", product.price)]  # fmt: skip
        fitting = [
            QuoteLine(product.id, product.title, name or None, price, math.ceil(gap / price))
            for name, price in options
            if price > 0 and not (name and out_of_stock_line(product, name))
        ]
        fitting = [line for line in fitting if line.quantity <= _MOST_OF_ONE]
        if not fitting:
            continue
        best = min(fitting, key=lambda line: (line.total, line.quantity))
        if not price_cuts(running, [best], catalog.products):
            found.append(_Filler(product, best))
    return sorted(found, key=lambda f: (f.line.total, f.product.id))[:_FILLERS]


def _candidate(
    total: Decimal, gap: Decimal, deal: Promotion, fillers: list[_Filler]
) -> tuple[Candidate, tuple[Decimal, ...]]:
    assert deal.rule.amount is not None
    first, *others = fillers
    new_total = total + first.line.total
    payable = new_total - deal.rule.amount
    after = f"合计{yuan(new_total)}，{deal.rule_text}后实付{yuan(payable)}"
    more = "".join(f"；或者加{f.said}" for f in others)
    gap_said = f"亲，现在{yuan(total)}，还差{yuan(gap)}到{deal.rule_text}"
    text = f"{gap_said}～可以加{first.said}，{after}{more}～"
    evidence = (promo_evidence(deal), *(product_evidence(f.product) for f in fillers))
    ids = (deal.id, *(f.product.id for f in fillers))
    numbers = (total, gap, new_total, payable, *(f.line.unit_price for f in fillers))
    numbers += tuple(Decimal(f.line.quantity) for f in fillers)
    return Candidate(text, "answer", Source(kb_entry_ids=ids), 0.92, evidence), numbers

"""Which option fits a stated measure, as the shop's own sheets decide it.

"犬用驱虫 12斤的狗买哪个": the product has 小型 and 中型, and the FAQ says "10kg以下选小型犬款，
10-20kg选中型犬款". A clause (of the product's FAQs, its record or an option's own name) that
names exactly one option and states a range the customer's measure falls in decides: 12斤 is
6kg, inside 10kg以下, so 小型. The reply quotes the clause that decided; every number in it is
the sheet's or the customer's own (6kg is their 12斤, converted)."""

from __future__ import annotations

import re

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import price_text, product_evidence
from copilot.grounding.focus import ProductFocus
from copilot.grounding.measures import (
    Measure,
    first_said,
    measures_said,
    range_score,
    ranges,
    without_measures,
)
from copilot.text.figures import normalize
from copilot.types import Candidate, Source
from kb.types import Product, Variant

_PART = re.compile(r"[^，,；;。\n]+")


def variant_for_measure(text: str, focus: ProductFocus, catalog: Catalog) -> Candidate | None:
    """The option a stated age, weight or head count falls in, or nothing when no clause of
    the sheets decides it alone."""
    product = focus.product
    said = measures_said(normalize(text))
    if product is None or not said or len(product.variants) < 2 or not _asks_choice(text):
        return None
    for clause in _deciding_clauses(product, catalog):
        named = _options_in(clause, product)
        if len(named) == 1 and range_score(said, ranges(clause)) > 0:
            return _candidate(text, said[0], product, named[0], clause)
    return None


def _asks_choice(text: str) -> bool:
    """The message asks which option (or whether one fits), or says the measure alone ("5岁了"
    to "宝宝多大了"): "乳胶的有味道不 娃4岁" asks the smell, not the size."""
    said = normalize(text)
    rest = _CJK.findall(without_measures(said))
    return bool(_ASKS_CHOICE.search(said)) or len("".join(rest)) <= _MEASURE_ALONE


_ASKS_CHOICE = re.compile(
    r"哪|选|买啥|拍啥|多大|几码|什么码|尺码|尺寸|合适|适合|适用|够不够|够吗|能用|可以用|能穿|能戴|能吃"
    r"|行吗|行不"
)
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_MEASURE_ALONE = 4  # "宝宝5岁了": a few words beside the measure


def _deciding_clauses(product: Product, catalog: Catalog) -> list[str]:
    names = [v.name for v in product.variants]
    texts = [f.answer for f in catalog.faqs.values()
             if f.product_id == product.id or sum(n in f.answer for n in names) >= 2]  # fmt: skip
    texts += [*product.selling_points, product.usage_notes, *names]
    return [p.strip() for t in texts for p in _PART.findall(t) if p.strip()]


def _options_in(clause: str, product: Product) -> list[Variant]:
    found = [v for v in product.variants if _core(v.name) and _core(v.name) in clause]
    longest = {v.name for v in found if not any(v is not w and v.name in w.name for w in found)}
    return [v for v in found if v.name in longest]


def _core(name: str) -> str:
    """An option's name without its own range: "S：胸围30-40cm（5kg以内）" is S."""
    return re.split(r"[：:（(]", name)[0].strip()


def _candidate(
    text: str, said: Measure, product: Product, option: Variant, clause: str
) -> Candidate:
    stated = first_said(text)
    if stated.endswith("斤"):
        stated += f"（{said.low:g}kg）"
    price = price_text(product, option.name)
    reply = f"亲，{stated}的话选{_core(option.name)}就可以哦（{clause}），{price}～"
    return Candidate(
        reply, "answer", Source(kb_entry_ids=(product.id,)), 0.85,
        (product_evidence(product), clause),
    )  # fmt: skip

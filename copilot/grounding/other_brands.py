"""A customer who sets the shop's product beside another brand's ("跟美的的比咋样"): the
shop's agents do not run down other brands, and they do not claim to beat them. The reply says
so and gives the product's own first selling point, from the sheet."""

from __future__ import annotations

import re

from copilot.grounding.catalog import Catalog, resolve_product
from copilot.grounding.computed_answers import product_evidence
from copilot.grounding.focus import ProductFocus
from copilot.text.figures import normalize
from copilot.types import Candidate, Source

_AGAINST = re.compile(
    r"(?:跟|和|与|同|对比)(?P<other>[^，,。？?！!\s]{1,8}?)(?:家)?(?:的)?"
    r"(?:比|相比|比较|对比|有什么区别|有啥区别|区别|哪个好|哪家好|差在哪)"
)
# what the customer compares with that is not another brand
_NOT_A_BRAND = re.compile(r"\d|这|那|你|我|咱|上次|之前|以前|原来|普通|别的款")


def other_brand_answer(text: str, focus: ProductFocus, catalog: Catalog) -> Candidate | None:
    """The reply when the message compares with a name that is none of the shop's products."""
    match = _AGAINST.search(normalize(text))
    if match is None:
        return None
    other = match.group("other")
    named, among = resolve_product(other, catalog)
    if _NOT_A_BRAND.search(other) or named is not None or among:
        return None
    lead = "亲，各家都有自己的特点，不好评价别家哦～"
    product = focus.product
    if product is None or not product.selling_points:
        text = f"{lead}您更看重哪方面呢？这边按您的需求给您推荐～"
        return Candidate(text, "clarify", Source(), 0.45)
    point = re.split(r"[；;。]", product.selling_points[0])[0].strip()
    return Candidate(
        f"{lead}咱家{product.title}：{point}，您可以对比看看～", "answer",
        Source(kb_entry_ids=(product.id,)), 0.6, (product_evidence(product),),
    )  # fmt: skip

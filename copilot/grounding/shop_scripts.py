"""The shop's entries as they stand today: an FAQ answer or a script quoting a promotion that
is over (or not started) expires with it, and the script written for the intent, when it fits
this customer (bought or not, paid or not)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from copilot.grounding.catalog import Catalog
from copilot.grounding.slots import fill_slots
from copilot.guardrails.staleness import stale_mentions
from copilot.templates import AFTER_PURCHASE
from copilot.types import Candidate, Source
from kb.types import FAQ, Hit


def stale_faq(hit: Hit, catalog: Catalog, day: date) -> bool:
    """An FAQ answer that quotes a promotion outside its validity, or an ended date range,
    expires with it: the next FAQ (or the live promotion listing) takes its place."""
    return isinstance(hit.entry, FAQ) and stale(hit.entry, catalog, day)


def stale(entry: FAQ, catalog: Catalog, day: date) -> bool:
    key = (entry.id, day)  # the same FAQs come back for every customer who asks alike
    if key not in catalog.stale_faqs:
        if len(catalog.stale_faqs) >= _STALE_KEPT:
            catalog.stale_faqs.clear()
        catalog.stale_faqs[key] = bool(stale_mentions(entry.answer, catalog.promotions, day))
    return catalog.stale_faqs[key]


_STALE_KEPT = 20_000


def names_stale_promotion(text: str, catalog: Catalog, day: date) -> bool:
    """A script written for a promotion that is over (or not started) must not go out."""
    return any(m.promotion_id for m in stale_mentions(text, catalog.promotions, day))


_SAYS_UNPAID = re.compile(r"(?:还没|没有?|未|待)(?:付款|支付|付钱|拍下付款)")


def script_candidates(
    catalog: Catalog,
    label: str,
    values: Mapping[str, str],
    day: date,
    adopted: Mapping[str, str],
    bought: bool,
    unpaid: bool,
) -> list[Candidate]:
    """The script written for the intent; one for after a purchase only when the customer has
    bought (a pre-sales question guessed as damaged_item gets no apology); one saying the
    order is not paid ("看到您拍下的宝贝还没付款哦") only when the order is `unpaid`."""
    if label in AFTER_PURCHASE and not bought:
        return []
    found = []
    for script in catalog.scripts:
        if (
            label
            and (script.intent or adopted.get(script.id)) == label
            and not names_stale_promotion(script.text, catalog, day)
            and (unpaid or not _SAYS_UNPAID.search(script.text))
        ):
            text = fill_slots(script.text, values)
            if text is not None:
                found.append(
                    Candidate(
                        text, "script", Source(kb_entry_ids=(script.id,)), 0.5, (script.text,)
                    )
                )
    return found[:1]

"""The FAQ answers for a message: the nearest FAQ when something vouches for it, the other
retriever's first FAQ, the FAQ sharing a rare word with it (rare_words.py), with FAQs about
another product than the one under discussion set aside or turned into "which one?"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from copilot.grounding.catalog import (
    Catalog,
    dice,
    faq_similarity,
    name_tokens,
    resolve_product,
    tokens_of,
)
from copilot.grounding.entry_answers import FAQ_VOUCHED_RANK, QUESTION_WORDS, VOUCHED_RANK, vouched
from copilot.grounding.focus import ProductFocus
from copilot.grounding.slots import fill_slots
from copilot.types import Candidate, Source
from kb.types import FAQ, Hit, Product


def faq_candidates(
    text: str,
    hits: Sequence[Hit],
    label: str,
    values: Mapping[str, str],
    gate: float,
    adopted: Mapping[str, str],
    pre_sales: bool = True,
    on_focus: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """The nearest FAQ (the one of the intent among the first three, else before a purchase
    the one about the product under discussion: `on_focus`), when something vouches that it
    answers this message: both retrievers rank it near the top, or it shares more with the
    message than this shop's FAQs share with each other (the calibrated `gate`), or it carries
    the intent, or (before a purchase) it is about the product under discussion. Otherwise it
    is about something else (a greeting finds no FAQ)."""
    faq_hits = [h for h in hits if isinstance(h.entry, FAQ)][:3]
    if not faq_hits:
        return []

    def intent_of(hit: Hit) -> str:
        return getattr(hit.entry, "intent", "") or adopted.get(hit.entry_id, "")

    about = [h for h in faq_hits if pre_sales and h.entry_id in on_focus]
    chosen = next((h for h in faq_hits if label and intent_of(h) == label), None)
    chosen = chosen or (about[0] if about else faq_hits[0])
    faq = chosen.entry
    assert isinstance(faq, FAQ)
    answer = fill_slots(faq.answer, values)
    if answer is None:
        return []
    position = [h.entry_id for h in hits].index(chosen.entry_id) + 1
    similarity = faq_similarity(text, faq)
    # before a purchase an FAQ is the likely answer; after one, a near FAQ is often off-topic
    vouched_for = vouched(chosen, FAQ_VOUCHED_RANK if pre_sales else VOUCHED_RANK)
    vouched_for = vouched_for or chosen in about
    if similarity < gate and not vouched_for and not (label and intent_of(chosen) == label):
        return []
    score = round(0.6 * similarity + 0.4 / position, 4)
    found = [_faq_candidate(faq, answer, score)]
    runner_up = _runner_up_faq(text, faq_hits, chosen, gate)
    if runner_up is not None:
        other = fill_slots(runner_up.answer, values)
        found += [_faq_candidate(runner_up, other, score - 0.1)] if other else []
    return found


def rare_word_faq(
    text: str, focus: ProductFocus, catalog: Catalog, values: Mapping[str, str]
) -> Candidate | None:
    """The FAQ sharing a rare word with the question less the product's name (see
    rare_words.py): "猫砂能发顺丰吗" is answered by the FAQ that says 不能发顺丰."""
    named: set[str] = set()
    for product in [focus.product, *focus.ambiguous, resolve_product(text, catalog)[0]]:
        if product is not None:
            named |= name_tokens(product)
    found = catalog.rare_words.best(tokens_of(text) - named - QUESTION_WORDS, _RARE_ENOUGH)
    if found is None or faq_about(found[0], catalog) not in (None, _id(focus.product)):
        return None
    answer = fill_slots(found[0].answer, values)
    return _faq_candidate(found[0], answer, 0.45) if answer else None


_RARE_ENOUGH = 2.0  # one word that a single FAQ of thirty holds, in its answer


def _faq_candidate(faq: FAQ, answer: str, score: float) -> Candidate:
    return Candidate(
        answer, "answer", Source(kb_entry_ids=(faq.id,)), score, (faq.question, faq.answer)
    )


def _runner_up_faq(text: str, faq_hits: Sequence[Hit], chosen: Hit, gate: float) -> FAQ | None:
    """The two retrievers read a message differently, and each one's first FAQ may be the
    answer ("4L的能放6寸蛋糕模吗": 4L和6L怎么选 by meaning, 能烤蛋糕吗 by words). The other
    reading's first FAQ is offered too when its question or answer shares enough with the
    message."""
    for hit in faq_hits:
        faq = hit.entry
        if hit is chosen or not isinstance(faq, FAQ):
            continue
        first = any(s.rank == 1 for s in hit.retrievers.values())
        shared = max(faq_similarity(text, faq), dice(text, faq.answer))
        if first and shared >= gate:
            return faq
    return None


def focus_first(
    hits: Sequence[Hit], focus: ProductFocus, catalog: Catalog, text: str
) -> tuple[list[Hit], frozenset[str]]:
    """The hits without the FAQs about another product than the one under discussion, when one
    about it is near the top ("洗面奶一瓶能用多久" after talk of the cleanser is 洁面乳能用多久,
    not 面霜一瓶能用多久; with none about it, the others stay, to become a "which one?"), and
    the ids of the FAQs about it. An FAQ about a product the message `text` names itself stays:
    "多肉盲盒可以指定有熊童子吗" is answered by 多肉盲盒能指定品种吗 though the focus is 熊童子."""
    if focus.product is None:
        return list(hits), frozenset()
    about = {h.entry_id: faq_about(h.entry, catalog) for h in hits if isinstance(h.entry, FAQ)}
    on_focus = frozenset(i for i, product in about.items() if product == focus.product.id)
    if focus.product.id not in list(about.values())[:3]:
        return list(hits), on_focus
    named = {None, focus.product.id, *catalog.named_by_head(text)}
    kept = [h for h in hits if about.get(h.entry_id) in named]
    return kept, on_focus


def _id(product: Product | None) -> str | None:
    return product.id if product is not None else None


def faq_about(faq: FAQ, catalog: Catalog) -> str | None:
    """The product an FAQ is about: its products column, else the product its question names."""
    return faq.product_id or _id(resolve_product(faq.question, catalog)[0])


def ask_which(candidate: Candidate, focus: ProductFocus, catalog: Catalog) -> Candidate:
    """An FAQ about another product than the one under discussion is no answer: "能装开水吗"
    about the cup in the order, answered with the kettle's FAQ, would mislead. Asking which one
    they mean is what an agent does; the FAQ's own product never reaches the customer unasked."""
    faq_product = catalog.products.get(_faq_product_id(candidate, catalog) or "")
    if focus.product is None or faq_product is None or faq_product.id == focus.product.id:
        return candidate
    question = f"亲，您问的是「{focus.product.title}」还是「{faq_product.title}」呢？"
    return replace(candidate, text=question, role="clarify", evidence=())


def _faq_product_id(candidate: Candidate, catalog: Catalog) -> str | None:
    for entry_id in candidate.source.kb_entry_ids:
        faq = catalog.faqs.get(entry_id)
        if faq is not None:
            return faq.product_id
    return None

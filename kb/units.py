"""What gets indexed for each entry: short, single-purpose texts (an FAQ phrasing, a title).

FAQ questions and each of their phrasings are units of their own and answers are never mixed
in: a customer's question should match a question, not an answer that merely shares words.
"""

from __future__ import annotations

from kb.types import FAQ, Entry, IndexUnit, Policy, Product, Promotion, Script


def index_units(entry: Entry) -> list[IndexUnit]:
    texts = list(_unit_texts(entry))
    seen: set[str] = set()
    units = []
    for field, text in texts:
        text = text.strip()
        if text and text not in seen:
            seen.add(text)
            units.append(IndexUnit(entry.id, field, text))
    return units


def _unit_texts(entry: Entry) -> list[tuple[str, str]]:
    if isinstance(entry, FAQ):
        return [("question", entry.question)] + [("alt_question", q) for q in entry.alt_questions]
    if isinstance(entry, Product):
        return _product_texts(entry)
    if isinstance(entry, Policy):
        return [("title", entry.title), ("content", f"{entry.title}：{entry.content}")]
    if isinstance(entry, Promotion):
        return [
            ("title", f"{entry.title} {entry.rule_text} {entry.description}".strip()),
            # Customers ask about offers, not for a rule's name (see _product_texts).
            ("asked_as", f"现在有什么优惠活动 {entry.title} {entry.rule_text}"),
        ]
    if isinstance(entry, Script):
        return [("title", f"{entry.title} {entry.text}")]
    raise TypeError(f"unknown entry type {type(entry).__name__}")


def _product_texts(entry: Product) -> list[tuple[str, str]]:
    variants = " ".join(v.name for v in entry.variants)
    texts = [("title", f"{entry.title} {entry.category}".strip())]
    if entry.selling_points or variants:
        texts.append(
            (
                "selling_points",
                f"{entry.title}：{'，'.join(entry.selling_points)} {variants}".strip(),
            )
        )
    if entry.usage_notes:
        texts.append(("usage_notes", f"{entry.title} {entry.usage_notes}"))
    # A question-shaped text (a templated doc2query): customers ask about a product in
    # question form, and e5 matches question to question better than to a bare title.
    texts.append(("asked_as", f"{entry.title}多少钱 有货吗 有哪些规格"))
    return texts


def display_text(entry: Entry) -> str:
    """A one-line label for lists and previews."""
    if isinstance(entry, FAQ):
        return entry.question
    return entry.title

"""A term the rule lists per product, said for the customer's product alone.

Trainers write warranty terms as one list for the whole shop: "保修期内（S3 Pro、H1两年，S1、
K1、R2、H0一年）", "质保：键盘/鼠标/耳机/扩展坞/集线器1年，支架3年，鼠标垫、轴体不保修". Said to
the owner of a broken mouse or toothbrush, the judges graded the rule 1 each time: right, but
it pastes a list of products that are not theirs. The list becomes the one entry naming
their product, with its term ("质保：鼠标1年"); a list that names it nowhere stays whole.
"""

from __future__ import annotations

import re

from copilot.text.figures import normalize
from kb.types import Product

_TERM = r"(?:\d+|[一两二三四五六七八九十半])\s*(?:年|个月)|不保修|不保"
_ASIDE = r"(?:[（(][^）)]*[）)])?"
_PIECE = rf"[^，,；;。：:（(）)\n]{{1,40}}?(?:{_TERM}){_ASIDE}"
# two or more "names term" pieces in a row, at least one naming several products
_LIST = re.compile(rf"{_PIECE}(?:[，,]{_PIECE})+")
_SPLIT_PIECE = re.compile(rf"^(?P<names>.+?)(?P<term>(?:{_TERM}){_ASIDE})$")
_NAME_SEPARATOR = re.compile(r"[、/]")


def own_terms(text: str, product: Product | None) -> str:
    """`text` with each per-product term list cut to the entry naming `product`."""
    if product is None:
        return text
    return _LIST.sub(lambda found: _own_entry(found.group(0), product), text)


def _own_entry(listed: str, product: Product) -> str:
    pieces = [_SPLIT_PIECE.match(p.strip()) for p in re.split(r"[，,]", listed)]
    if any(p is None for p in pieces) or not any(
        _NAME_SEPARATOR.search(p.group("names")) for p in pieces if p
    ):
        return listed
    named = [
        (len(name), name, p.group("term"))
        for p in pieces
        if p is not None
        for name in _NAME_SEPARATOR.split(p.group("names"))
        if _names(name, product)
    ]
    if not named:
        return listed
    _, name, term = max(named)  # "鼠标垫" before "鼠标" for a mouse pad
    return f"{name.strip()}{term}"


def _names(name: str, product: Product) -> bool:
    """The list entry names the product: its id, or a run of its title not followed by more
    digits ("S1" is not "S10")."""
    said = _squeezed(name)
    if not said:
        return False
    if said == _squeezed(product.id):
        return True
    return re.search(rf"{re.escape(said)}(?!\d)", _squeezed(product.title)) is not None


def _squeezed(text: str) -> str:
    return "".join(normalize(text).lower().split())

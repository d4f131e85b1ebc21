"""Which of a product's options a customer names: in full ("220*240cm 6斤"), word by word with
a unit left off ("220x240 6斤"), by its leading number ("500ml的"), by an amount its name holds
("50L那个" for "通用营养土 50L大包") or short ("皮革双层的")."""

from __future__ import annotations

import re

from copilot.text.figures import normalize
from kb.types import Product


def option_named(text: str, product: Product, tokens: set[str]) -> str | None:
    """The option of `product` the text names (`tokens`: its catalog tokens), if one."""
    lowered = _BY.sub("*", normalize(text).lower())
    for variant in sorted(product.variants, key=lambda v: -len(v.name)):
        name = _BY.sub("*", normalize(variant.name).lower())
        if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z])", lowered):
            return variant.name
    # "220x240 6斤" names "220*240cm 6斤": each word said, a unit left off
    worded = [
        v for v in product.variants
        if " " in v.name.strip()
        and all(w in lowered for w in _UNIT_OFF.sub("", _BY.sub("*", v.name.lower())).split())
    ]  # fmt: skip
    if len(worded) == 1:
        return worded[0].name
    for variant in product.variants:
        digits = re.match(r"[0-9.]+", normalize(variant.name).lower())
        if digits and digits.group(0) in tokens:
            return variant.name
    return _amount_named(lowered, product) or _abridged(lowered, product)


def has_option_word(product: Product, words: set[str]) -> bool:
    """Whether one of `product`'s option names holds one of these words, or the word without
    its 色 or 款 ("粉色" in "普通轮款 粉")."""
    names = normalize(" ".join(v.name for v in product.variants)).lower()
    stems = {w.removesuffix("色").removesuffix("款") for w in words}
    return any(len(stem) and stem in names for stem in stems)


_AMOUNT = re.compile(
    r"(?<![\d.])\d+(?:\.\d+)?\s*(?:ml|l|g|kg|cm|mm|m|毫升|升|克|斤|米|颗|粒|片|支|包)(?![a-z])"
)


def _amount_named(text: str, product: Product) -> str | None:
    """ "50L那个营养土" names "通用营养土 50L大包": an amount said that one option's name holds."""
    said = {a.replace(" ", "") for a in _AMOUNT.findall(text)}
    holding = [
        v.name for v in product.variants
        if said & {a.replace(" ", "") for a in _AMOUNT.findall(normalize(v.name).lower())}
    ]  # fmt: skip
    return holding[0] if len(holding) == 1 else None


_SHORTEST = 4  # "皮革双层": three characters in order matched options no one named
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{4,}")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_ASIDE = re.compile(r"[（(][^）)]*[）)]")


def _abridged(text: str, product: Product) -> str | None:
    """ "皮革双层的" names "皮革+丝圈双层（黑/黑红/米）": four characters or more said in the
    name's order, half of its characters at least, in one option's name only (brackets left
    off)."""
    cores = {v.name: _ASIDE.sub("", v.name) for v in product.variants}
    for run in _HAN_RUN.findall(text):
        spans = {run[i:j] for i in range(len(run)) for j in range(i + _SHORTEST, len(run) + 1)}
        named = {
            name
            for name, core in cores.items()
            for span in spans
            if _in_order(span, core) and len(span) * 2 >= len(_HAN.findall(core))
        }
        if len(named) == 1:
            return named.pop()
    return None


def _in_order(span: str, name: str) -> bool:
    rest = iter(name)
    return all(char in rest for char in span)


_UNIT_OFF = re.compile(r"(?<=\d)(?:cm|mm|厘米|米)")
_BY = re.compile(r"(?<=\d)\s*[x×*]\s*(?=\d)")  # 220x240, 220×240 and 220*240 are one size

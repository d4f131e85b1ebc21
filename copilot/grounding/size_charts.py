"""Which size a customer takes, read off the shop's own size chart.

"我158 105斤 穿啥码" about a sweater whose sheet says "S 85-100斤 / M 100-115斤 / L 115-130斤":
105斤 is inside M, so "按这个体重拍M码就可以哦（M码适合100-115斤）". A chart is any run of size
names each followed by its ranges, in the product's record or an FAQ about it: weights (斤, kg),
heights (cm), chest and waist (胸围, 腰围 cm); "S码胸围30-40cm（5kg以内）" for a harness too.

- A measure on the line between two sizes (120斤 with M 100-120斤 and L 120-140斤) gets both,
  with the usual advice: the smaller fits closer, the larger looser.
- A measure past every size (140斤 for 均码 90-135斤) is told so: it will sit tight.
- Height and weight that point to different sizes get both, each with its range.
- A men's and a women's chart (a 尺码表 sheet's 男款 and 女款, kb/files/size_charts.py) are told
  apart by who the size is for (老公, 女生); the record's own advice beside its chart (修身偏小，
  平时穿M的建议拍L) goes with the size.

Every number in the reply is the chart's: the customer's own are named (这个体重), not repeated,
as the guardrails hold a reply to the shop's numbers."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import product_evidence
from copilot.grounding.focus import ProductFocus
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source
from kb.types import Product

_SIZE = r"(?:[2-6]XL|XXXL|XXL|XL|XS|[SML]|均码|大号|中号|小号|\d{2}码)"
_SIZE_NAME = re.compile(rf"(?<![A-Za-z\d]){_SIZE}(?![A-Za-z])码?")
# who the customer buys for, when the shop charts men's and women's sizes apart
_FOR_MEN = re.compile(r"男|老公|先生|爸|儿子|哥|弟")
_FOR_WOMEN = re.compile(r"女|老婆|太太|妈|女儿|姐|妹")
_NUMBER = r"(\d+(?:\.\d+)?)"
_UNIT = r"(斤|kg|公斤|cm|厘米)"
_RANGE = re.compile(
    rf"(胸围|腰围|身高)?\s*{_NUMBER}\s*{_UNIT}?\s*[-~～至到]\s*{_NUMBER}\s*{_UNIT}"
    rf"|(胸围|腰围|身高)?\s*{_NUMBER}\s*{_UNIT}\s*(以上|以下|以内)"
)
_SAID_MEASURE = re.compile(rf"(胸围|腰围|身高)?[^\d，,。]{{0,3}}?{_NUMBER}\s*(斤|kg|公斤|cm|厘米)?")
# a question about which size, or whether it fits
ASKS_SIZE = re.compile(
    r"码|尺码|尺寸|号|能穿|穿得下|合适|合身|紧不紧|会不会[紧小大]|选哪|拿哪|穿啥|穿什么"
    r"|(?<![a-z])(?:xxl|xl|xs|s|m|l)(?![a-z])"
)


@dataclass(frozen=True)
class _Range:
    dimension: str  # weight (kg), height, chest, waist (cm)
    low: float
    high: float
    text: str  # as the chart writes it


@dataclass(frozen=True)
class _Size:
    name: str
    ranges: tuple[_Range, ...]


def size_for_measure(
    conversation: Conversation, focus: ProductFocus, catalog: Catalog
) -> Candidate | None:
    """The size a stated weight, height, chest or waist takes on the product's chart, or
    nothing when no chart covers what was said."""
    product = focus.product
    text = normalize(conversation.last_customer_text)
    if product is None or not ASKS_SIZE.search(text.lower()):
        return None
    recent = _recent_customer_text(conversation)
    said = _measures_said(recent)
    if not said:
        return None
    for chart, cut, advice in _charts(product, catalog, recent):
        reply = _answer(product, chart, said, cut)
        if reply is not None:
            if advice:  # "平时穿M的建议拍L", "身高150以下慎拍": the record's own words beside
                reply = f"{reply.removesuffix('～')}；这款{advice}～"
            evidence = "；".join(r.text for s in chart for r in s.ranges)
            return Candidate(
                reply, "answer", Source(kb_entry_ids=(product.id,)), 0.86,
                (product_evidence(product), evidence),
            )  # fmt: skip
    return None


def _recent_customer_text(conversation: Conversation) -> str:
    """This message and the one before it: "柯基11kg 胸围量了52" then "牵引绳拿哪个码"."""
    said = conversation.customer_texts[-2:]
    return normalize("，".join(said))


def _measures_said(text: str) -> dict[str, float]:
    """dimension -> value in kg or cm: 105斤 (52.5kg), 11kg, 158 (a bare height), 胸围52."""
    found: dict[str, float] = {}
    for m in _SAID_MEASURE.finditer(text.lower()):
        part, number, unit = m.group(1), float(m.group(2)), m.group(3) or ""
        if unit in ("斤", "kg", "公斤"):
            found.setdefault("weight", number / 2 if unit == "斤" else number)
        elif part in ("胸围", "腰围"):
            found.setdefault("chest" if part == "胸围" else "waist", number)
        elif unit or part == "身高" or (140 <= number <= 195 and number.is_integer()):
            found.setdefault("height", number)
    return found


_Chart = tuple[tuple[_Size, ...], str, str]  # sizes, the cut it is for, the record's advice


def _charts(product: Product, catalog: Catalog, said: str) -> list[_Chart]:
    """The product's charts, each with the cut it is for (男款, 女款 or "") and the advice its
    record gives beside it: in its record, in an FAQ about it, or on a size chart sheet naming
    its id ("SY-JK01 男款（DN02、TS01同）")."""
    names = [v.name for v in product.variants]
    charts = [
        (_chart(normalize(t)), "", _advice(normalize(t)))
        for t in (*product.selling_points, product.usage_notes)
    ]
    for faq in catalog.faqs.values():
        mine = faq.product_id == product.id or _names_id(faq.question, product.id)
        if mine or sum(n in faq.answer for n in names) >= 2:
            charts.append((_chart(normalize(faq.answer)), _cut(faq.question), ""))
    wanted = "男款" if _FOR_MEN.search(said) else "女款" if _FOR_WOMEN.search(said) else ""
    charts.sort(key=lambda chart: chart[1] != wanted)  # the customer's cut first
    return [chart for chart in charts if chart[0]]


def _advice(text: str) -> str:
    """A record's size advice without its chart: "尺码建议：修身偏小!!平时穿M的建议拍L。S 80-90斤
    M 90-105斤" advises 修身偏小，平时穿M的建议拍L."""
    advice = re.split(r"[:：]", text, maxsplit=1)[-1]  # 尺码建议：
    clauses = [c.strip(" !！") for c in re.split(r"[。；;，,]", advice)]
    kept = "，".join(c for c in clauses if c and c != "均码" and not _RANGE.search(c))
    return kept if len(kept) <= _ADVICE_CHARS else ""


_ADVICE_CHARS = 50


def _names_id(text: str, product_id: str) -> bool:
    """SY-DN02 is named by its id or by the part after its prefix (DN02), as sheets shorten."""
    tail = product_id.rsplit("-", 1)[-1]
    ids = {product_id, tail} if len(tail) >= 3 and re.search(r"\d", tail) else {product_id}
    return any(re.search(rf"(?<![A-Za-z0-9]){re.escape(i)}(?![0-9])", text) for i in ids)


def _cut(text: str) -> str:
    men, women = "男" in text, "女" in text
    return "男款" if men and not women else "女款" if women and not men else ""


def _chart(text: str) -> tuple[_Size, ...]:
    """The sizes a text lists, each with the ranges between its name and the next size's; a
    chart names at least two sizes, or one 均码 with a range."""
    names = list(_SIZE_NAME.finditer(text))
    sizes = []
    for i, name in enumerate(names):
        end = names[i + 1].start() if i + 1 < len(names) else len(text)
        segment = re.split(r"[。；;]", text[name.end() : end])[0]
        found = tuple(_ranges(segment))
        if found:
            sizes.append(_Size(name.group(0).removesuffix("码"), found))
    if len(sizes) >= 2 or (sizes and sizes[0].name == "均"):
        return tuple(sizes)
    return ()


def _ranges(segment: str) -> list[_Range]:
    found = []
    for m in _RANGE.finditer(segment):
        if m.group(2):
            part, low, unit = m.group(1), float(m.group(2)), m.group(5)
            high = float(m.group(4))
        else:
            part, value, unit = m.group(6), float(m.group(7)), m.group(8)
            low, high = (value, math.inf) if m.group(9) == "以上" else (0.0, value)
        scale = 0.5 if unit == "斤" else 1.0
        dimension = _dimension(part, unit)
        found.append(_Range(dimension, low * scale, high * scale, m.group(0).strip()))
    return found


def _dimension(part: str | None, unit: str) -> str:
    if unit in ("斤", "kg", "公斤"):
        return "weight"
    return {"胸围": "chest", "腰围": "waist"}.get(part or "", "height")


def _answer(
    product: Product, chart: tuple[_Size, ...], said: dict[str, float], cut: str = ""
) -> str | None:
    if len(chart) == 1:  # 均码: only a weight range says who it fits
        return _one_size(product, chart[0], said)
    picks = []
    for dimension in _DIMENSION_WORDS:
        if dimension in said and any(r.dimension == dimension for s in chart for r in s.ranges):
            picks.append((dimension, [s for s in chart if _fits(s, dimension, said[dimension])]))
    if not picks or not picks[0][1]:
        return None
    dimension, fits = picks[0]
    word = _DIMENSION_WORDS[dimension]
    if len(fits) >= 2:
        small, large = _label(fits[0]), _label(fits[1])
        return (
            f"亲，这个{word}在{cut}{small}（{_range_of(fits[0], dimension)}）和{large}"
            f"（{_range_of(fits[1], dimension)}）之间，想合身一点拍{small}，喜欢宽松拍{large}哦～"
        )
    size = fits[0]
    agree = [d for d, f in picks if size in f]
    words = "和".join(_DIMENSION_WORDS[d] for d in agree)
    ranges = "、".join(_range_of(size, d) for d in agree)
    label = _label(size)
    reply = f"亲，按这个{words}，{product.title}{cut}拍{label}就可以哦（{label}适合{ranges}）"
    for other_dimension, other_fits in picks[1:]:
        if other_fits and size not in other_fits:
            other = other_fits[0]
            reply += (
                f"；按{_DIMENSION_WORDS[other_dimension]}是{_label(other)}"
                f"（{_range_of(other, other_dimension)}），在两个码之间可以按喜欢的松紧选"
            )
            break
    return reply + "～"


def _one_size(product: Product, size: _Size, said: dict[str, float]) -> str | None:
    weights = [r for r in size.ranges if r.dimension == "weight"]
    if "weight" not in said or not weights:
        return None
    fit = f"亲，{product.title}是均码，适合{weights[0].text}"
    if weights[0].low <= said["weight"] <= weights[0].high:
        return f"{fit}，您这个体重可以穿的哦～"
    looser = said["weight"] < weights[0].low
    return f"{fit}，您这个体重穿会{'偏宽松' if looser else '偏紧'}一些哦～"


_DIMENSION_WORDS = {"weight": "体重", "height": "身高", "chest": "胸围", "waist": "腰围"}


def _fits(size: _Size, dimension: str, value: float) -> bool:
    return any(r.dimension == dimension and r.low <= value <= r.high for r in size.ranges)


def _label(size: _Size) -> str:
    return size.name if size.name.endswith(("码", "号")) else f"{size.name}码"


def _range_of(size: _Size, dimension: str) -> str:
    return "、".join(r.text for r in size.ranges if r.dimension == dimension)

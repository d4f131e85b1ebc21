"""Recommendations and comparisons composed from the shop's product records, as an agent would.

"敏感肌用哪个水", "两个半月的小猫吃哪个粮": the products of the kind asked for (the noun after
哪个/什么, or the products the message names) are scored against the customer's need, read
from this message and their earlier ones: a stated age, weight or head count must fall in the
range a record gives (2-12月龄, 1岁以上, 5kg以内, 1-3人), and the need's words must be the
record's (敏感肌 in 适合肤质：干皮、敏感肌), weighted by how few of the products share them. The
reply names the one or two products that fit, with the record's own clauses and price. When
nothing in the records decides, a short question names the products instead.

"pro那个跟299那款差在哪", "jj跟jjj差在哪": the two sides of the comparison resolve to two
products (by name or price) or to two variants of one, and the reply sets their prices and
recorded traits side by side.

Nothing is invented and nothing is computed: every number is a clause or price from the
records. Trainer notes to agents (客户叫“冻干那款”, 可以推这个) may weigh in the choice, but
are never quoted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal

from copilot.grounding.catalog import Catalog, resolve_product
from copilot.grounding.computed_answers import price_text, product_evidence
from copilot.grounding.entry_answers import product_clauses
from copilot.grounding.measures import FIT, measures_said, range_score, ranges
from copilot.grounding.promotions import unit_price, yuan
from copilot.text.figures import normalize
from copilot.types import Candidate, Conversation, Source
from kb.types import Product, Variant

COMPARE_WORDS = re.compile(
    r"区别|差在哪|差别|差异|(?:有|什么|啥)不同|不一样|差啥|对比|比较|哪个好|哪个更|哪款好|哪款更"
)
RECOMMEND_WORDS = re.compile(
    r"推荐|(?:用|吃|买|选|挑|入|换|拿)(?:哪|什么|啥)"
    r"|哪(?:个|款|种)[\u4e00-\u9fff]{0,3}?(?:好|适合|合适|比较)"
    r"|适合(?:我|什么|啥|哪)"
)
_PAIR = re.compile(r"和|跟|与|还是|对比|vs", re.IGNORECASE)
_ASKED_NOUN = re.compile(r"(?:哪个|哪款|哪种|什么|啥)([\u4e00-\u9fff]{1,3})")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ASCII = re.compile(r"[a-z]+[0-9]*|[0-9]+[a-z]+")
_NAME_WORD = re.compile(r"[a-z0-9][a-z0-9.×*+]*")  # jj, pro, 6l×4
_SIDE_PRICE = re.compile(r"(?:那个|那款|这个|这款)?(\d{2,5}(?:\.\d+)?)(?:元|块)?(?:的|那个|那款)")
# characters that say nothing about a need: function words, question words, measure words
_STOP = frozenset(
    "的了吗呢啊吧呀哦嘛个哪用吃买选好是有在我你他她它这那么什啥款种和跟与还要想能会可以很太"
    "不就都也给家里点些一两二三只适合推荐比较"
)
_TROUBLE = re.compile(r"过敏|挠|痒|敏感|不耐受|拉稀|软便|呕吐|吐|泪痕|刺痛|长痘|闷痘|爆痘|红肿")
_WITHOUT = re.compile(r"(?:不添加|不含|无添加|无|不加|没有)([\u4e00-\u9fff]{2})")
_RUNNER_UP = 0.85  # a second product is named when it scores this close to the first
_MOST_CLAUSES = 2


def recommendation(conversation: Conversation, catalog: Catalog) -> Candidate | None:
    """The products that fit the need the customer asks a recommendation for, or a question."""
    text = normalize(conversation.last_customer_text).lower()
    if not RECOMMEND_WORDS.search(text):
        return None
    pool = _pool(text, conversation, catalog)
    if not pool:
        return None
    need = _need_text(conversation)
    every = [_tokens(_record_text(p)) for p in catalog.products.values()]
    ranked = sorted(((_fit_score(need, p, every), p) for p in pool), key=lambda sp: -sp[0])
    fitting = [(s, p) for s, p in ranked if s > 0 and _fit_beyond_name(need, p)]
    if not fitting or (len(fitting) > 2 and fitting[0][0] == fitting[2][0]):
        return _which_need(pool) if len(pool) > 1 else None
    best, first = fitting[0]
    # a second product only when it is as good and says what made the first fit (猫)
    named = _tokens(need) & _tokens(first.title)
    chosen = [first] + [
        p for s, p in fitting[1:2] if s >= _RUNNER_UP * best and named <= _tokens(_record_text(p))
    ]
    return _recommend_candidate(need, chosen)


def composed_answers(conversation: Conversation, catalog: Catalog) -> list[Candidate]:
    """A comparison when the customer sets two products (or variants) side by side, else a
    recommendation when they ask which one fits."""
    found = comparison(conversation, catalog) or recommendation(conversation, catalog)
    return [found] if found is not None else []


def comparison(conversation: Conversation, catalog: Catalog) -> Candidate | None:
    """The two products (or two variants of one) the customer compares, side by side."""
    text = normalize(conversation.last_customer_text).lower()
    if not (COMPARE_WORDS.search(text) or RECOMMEND_WORDS.search(text)):
        return None
    pair = _pair(text, catalog)
    if pair is None:  # "送人用哪个好点" after "jj跟jjj差在哪": the pair asked about before
        pair = _earlier_pair(conversation, catalog)
        named, _ = resolve_product(text, catalog)
        if pair is None or (named is not None and named not in map(_product_of, pair)):
            return None
    first, second = pair
    if isinstance(first, Product) and isinstance(second, Product):
        return _products_candidate(first, second)
    assert isinstance(first, tuple) and isinstance(second, tuple)
    return _variants_candidate(first[0], first[1], second[1])


_Side = Product | tuple[Product, Variant]


def _product_of(side: _Side) -> Product:
    return side if isinstance(side, Product) else side[0]


def _earlier_pair(conversation: Conversation, catalog: Catalog) -> tuple[_Side, _Side] | None:
    earlier = conversation.earlier_customer_texts[-2:]
    for said in reversed(earlier):
        said = normalize(said).lower()
        if COMPARE_WORDS.search(said):
            pair = _pair(said, catalog)
            if pair is not None:
                return pair
    return None


def _side(said: str, text: str, catalog: Catalog) -> Product | None:
    """The product one side names; "69的" in "69的和129的耳机" is the 69 earphones, not the
    69 power bank: the noun the whole message names settles a side its price leaves open."""
    price = _SIDE_PRICE.match(said.strip(" ，,"))
    if price:  # "69的", "129的耳机": a side named by its price first
        priced = catalog.priced({Decimal(price.group(1))})
        named = {p.id for p, _ in catalog.mentions(text, by_head=False)}
        fits = [p for p in priced if p.id in named] or list(priced)
        if len(fits) == 1:
            return fits[0]
    product, among = resolve_product(said, catalog)
    if product is None and among:
        named = {p.id for p, _ in catalog.mentions(text)}
        fits = [p for p in among if p.id in named]
        product = fits[0] if len(fits) == 1 else None
    return product


def _pair(text: str, catalog: Catalog) -> tuple[_Side, _Side] | None:
    """Two products, one named each side of 和/跟/还是, or two variants of one product."""
    split = _PAIR.search(text)
    if split is None:
        return None
    left, right = text[: split.start()], text[split.end() :]
    a, b = _side(left, text, catalog), _side(right, text, catalog)
    if a is not None and b is not None and a.id != b.id:
        return a, b
    product = a or b or resolve_product(text, catalog)[0]
    if product is None:
        return None
    va, vb = _variant_in(left, product), _variant_in(right, product)
    if va is None or vb is None or va == vb:
        return None
    return (product, va), (product, vb)


def _variant_in(text: str, product: Product) -> Variant | None:
    """The variant the text names by the words that tell variants apart (jj of "2斤 JJ级";
    not 斤, which every variant has); the first of those that say the most."""
    said = _words(text)
    names = [_words(v.name) for v in product.variants]
    common = set.intersection(*names) if names else set()
    scored = [(len((words - common) & said), -i) for i, words in enumerate(names)]
    best = max(scored, default=(0, 0))
    return product.variants[-best[1]] if best[0] > 0 else None


def _words(text: str) -> set[str]:
    """ASCII words (jj, pro, 6l×4) and Chinese bigrams of a short name."""
    text = normalize(text).lower()
    found = set(_NAME_WORD.findall(text))
    for run in _CJK.findall(text):
        found.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return found


def _pool(text: str, conversation: Conversation, catalog: Catalog) -> list[Product]:
    """The products of the kind asked for: named in the message, else by the noun after
    哪个/什么 (粮, 水), else named in the customer's earlier turns."""
    nouns = [m.group(1) for m in _ASKED_NOUN.finditer(text)]
    for noun in nouns:
        for size in range(len(noun), 0, -1):
            kind = [p for p in catalog.products.values() if _of_kind(noun[:size], p)]
            if kind:
                return kind
    headed = sorted(catalog.named_by_head(text))  # "想买积木 哪款合适": every 积木, not the
    if len(headed) > 1:  # one sharing most other words with the message (款合 of 两款合购)
        return [catalog.products[pid] for pid in headed]
    named = _named(text, catalog)
    if named:
        return named
    earlier = conversation.earlier_customer_texts[-2:]
    for said in reversed(earlier):
        named = _named(normalize(said).lower(), catalog)
        if named and _MOVING_ON.search(text):  # "那我大油田用啥" after the cream: not the cream
            return [p for p in catalog.products.values() if p not in named]
        if named:
            return named
    return []


_MOVING_ON = re.compile(r"^那|换一?[个款种]|别的|其他|还有什么")


def _of_kind(noun: str, product: Product) -> bool:
    """水 is the kind of 爽肤水 (not of 补水面膜); 面霜 of 修护面霜."""
    head = _title_head(product)
    return head.endswith(noun) if len(noun) == 1 else noun in head


def _named(text: str, catalog: Catalog) -> list[Product]:
    scored = catalog.mentions(text)
    if not scored:
        return []
    best = scored[0][1]
    return [p for p, s in scored if s >= 0.5 * best]


def _title_head(product: Product) -> str:
    """The title's first word group without brackets: 幼猫粮 of "幼猫粮 鸡肉蛋黄配方"."""
    title = re.sub(r"[(（][^)）]*[)）]", "", normalize(product.title)).strip()
    return title.split()[0] if title else ""


def _need_text(conversation: Conversation) -> str:
    said = conversation.customer_texts[-3:]
    need = normalize("，".join(said)).lower()
    return RECOMMEND_WORDS.sub("，", COMPARE_WORDS.sub("，", need))


def _record_text(product: Product) -> str:
    return "，".join((product.title, *product.selling_points, product.usage_notes))


def customer_clauses(product: Product) -> list[str]:
    """The record's phrases a customer may read, split at commas too."""
    return product_clauses(product, at_commas=True)


def _fit_beyond_name(need: str, product: Product) -> bool:
    """The record meets the need somewhere besides the words naming the product (口红 in
    "推荐哪个口红" recommends nothing)."""
    clauses = customer_clauses(product)
    said, tokens = measures_said(need), _tokens(need) - _tokens(product.title)
    return any(tokens & _tokens(c) or range_score(said, ranges(c)) > 0 for c in clauses)


def _avoid_score(need: str, record: str) -> float:
    """A customer whose pet or skin reacts to something (吃鸡肉的粮老挠痒) is served by the
    records that say they are without it (不添加鸡肉)."""
    if not _TROUBLE.search(need):
        return 0.0
    without = {m.group(1) for m in _WITHOUT.finditer(record)}
    return FIT * sum(word in need for word in without)


def _fit_score(need: str, product: Product, every: Sequence[set[str]]) -> float:
    """Ranges first (a 2.5-month kitten is outside 1岁以上), then shared words by rarity among
    all the shop's products (`every`: their records' tokens); a word of the title counts
    twice (猫 of 幼猫粮)."""
    record = normalize(_record_text(product)).lower()
    score = range_score(measures_said(need), ranges(record)) + _avoid_score(need, record)
    if score < 0:
        return score
    title = _tokens(product.title)
    for token in _tokens(need) & _tokens(_record_text(product)):
        df = sum(token in tokens for tokens in every)
        if df < len(every):
            weight = (0.5 if len(token) == 1 else 1.0) * (2.0 if token in title else 1.0)
            score += math.log(1 + len(every) / df) * weight
    return score


def _tokens(text: str) -> set[str]:
    """Chinese bigrams and single characters (function words left out), ASCII words."""
    text = normalize(text).lower()
    found = set(_ASCII.findall(text))
    for run in _CJK.findall(text):
        found.update(run[i : i + 2] for i in range(len(run) - 1))
        found.update(c for c in run if c not in _STOP)
    return found


def _fitting_clauses(need: str, product: Product) -> list[str]:
    """The clauses that speak to the need (their words or a range), else the first one; never
    one whose range leaves out what the customer measured (手腕15.5cm: not 手腕14-15cm选56)."""
    need_tokens, said = _tokens(need), measures_said(need)
    clauses = _labelled(customer_clauses(product))
    scored = []
    for index, clause in enumerate(clauses):
        fit = range_score(said, ranges(clause))
        if fit < 0:
            continue
        scored.append((len(need_tokens & _tokens(clause)) + fit, -index, clause))
    best = [c for s, _, c in sorted(scored, reverse=True)[:_MOST_CLAUSES] if s > 0]
    return best or [c for _, _, c in scored[:1]]


def _labelled(clauses: list[str]) -> list[str]:
    """A phrase that goes on a labelled range list keeps the label: "内径选择：手腕14-15cm选56，
    15-16cm选58" gives "内径选择：手腕15-16cm选58" (both ranges of one unit)."""
    found: list[str] = []
    for clause in clauses:
        before = found[-1] if found else ""
        label = _RANGE_LABEL.match(before)
        if label and clause[:1].isdigit() and _units(before) & _units(clause):
            clause = label.group(1) + clause
        found.append(clause)
    return found


_RANGE_LABEL = re.compile(r"(\D*[：:]\D*)\d")


def _units(text: str) -> set[str]:
    return {r.unit for r in ranges(text)}


def _recommend_candidate(need: str, chosen: Sequence[Product]) -> Candidate:
    parts = [
        f"{p.title}{_in_brackets(_fitting_clauses(need, p))}{price_text(p, None)}" for p in chosen
    ]
    text = "亲，推荐" + ("，或者".join(parts) if len(parts) > 1 else parts[0]) + "～"
    return Candidate(
        text,
        "answer",
        Source(kb_entry_ids=tuple(p.id for p in chosen)),
        0.75,
        tuple(product_evidence(p) for p in chosen),
    )


def _in_brackets(clauses: list[str]) -> str:
    return f"（{'，'.join(clauses)}）" if clauses else ""


def _which_need(pool: Sequence[Product]) -> Candidate:
    names = "、".join(p.title for p in pool[:3])
    more = "等" if len(pool) > 3 else ""
    return Candidate(
        f"亲，我们家有{names}{more}，方便说一下具体情况吗？这边帮您挑合适的～",
        "clarify",
        Source(kb_entry_ids=tuple(p.id for p in pool[:3])),
        0.45,
        tuple(product_evidence(p) for p in pool[:3]),
    )


def _traits(product: Product, other: Product) -> str:
    """The product's clauses its rival does not share, up to four."""
    theirs = set(customer_clauses(other))
    own = [c for c in customer_clauses(product) if c not in theirs]
    return "，".join(own[:4])


def _products_candidate(first: Product, second: Product) -> Candidate:
    sides = [
        f"{p.title}{price_text(p, None)}：{_traits(p, q)}"
        for p, q in ((first, second), (second, first))
    ]
    return Candidate(
        f"亲，{'；'.join(sides)}～",
        "answer",
        Source(kb_entry_ids=(first.id, second.id)),
        0.8,
        (product_evidence(first), product_evidence(second)),
    )


def _variants_candidate(product: Product, first: Variant, second: Variant) -> Candidate:
    prices = "、".join(f"{v.name} {yuan(unit_price(product, v.name)[0])}" for v in (first, second))
    words = [_words(first.name) - _words(second.name), _words(second.name) - _words(first.name)]
    both = [c for c in customer_clauses(product) if all(w & _words(c) for w in words)]
    detail = f"；{both[0]}" if both else ""
    return Candidate(
        f"亲，{product.title}{prices}{detail}～",
        "answer",
        Source(kb_entry_ids=(product.id,)),
        0.8,
        (product_evidence(product),),
    )

"""The clause of the product under discussion that answers a question by meaning, not words.

"我在哈尔滨 冬天零下二三十度 899那个长款够不够暖啊" shares no word with the down coat's
"适合北方-20℃左右", and "扎不扎啊 我皮肤敏感" none with "纯羊毛初穿略扎，敏感肌建议里面搭打底";
each answers its question. The message and the product's clauses a customer may read (selling
points and notes, never the notes to agents) are embedded, and the closest clause answers when it
stands clear of the product's next-closest by `CLEAR_MARGIN`.

Why a margin and not a floor: this embedder puts any two sentences about one coat at 0.8-0.9, so
a floor is either everything or nothing, and it moves with how a shop writes. The gap between the
best clause and the runner-up is measured within the product itself: a question near every clause
a little (is it good? shipping?) is answered by none; one near a single clause is answered by it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from copilot.grounding.catalog import Catalog
from copilot.grounding.computed_answers import product_evidence
from copilot.grounding.entry_answers import ASKS, product_clauses
from copilot.grounding.focus import ProductFocus
from copilot.types import Candidate, Source
from kb.models.embedder import embed_query

if TYPE_CHECKING:
    from kb.models.embedder import Embedder, Vectors

# best clause minus the runner-up (cosine); chosen on the tuning shops' pre-sales questions
CLEAR_MARGIN = 0.03
_MIN_CLAUSES = 3  # with fewer, a runner-up says little of how clear the best one is
# below the answers that share the question's words or an FAQ's: meaning alone may drift
# ("吵不吵 早上打豆浆" lands on 热豆浆约25分钟); above the holding reply it would otherwise leave
_SCORE = 0.3
_A_OR_NOT_A = re.compile(r"(\S)不\1")  # 扎不扎, 暖不暖: a question no shared word may answer


def closest_clause(
    text: str, focus: ProductFocus, catalog: Catalog, embedder: Embedder
) -> Candidate | None:
    """The product's clause nearest the question in meaning, when it is clearly the nearest."""
    product = focus.product
    if product is None or not (ASKS.search(text) or _A_OR_NOT_A.search(text)):
        return None
    clauses, vectors = _clause_vectors(product.id, catalog, embedder)
    if vectors is None or len(clauses) < _MIN_CLAUSES:
        return None
    scores = vectors @ embed_query(embedder, text)
    best, runner_up = sorted(range(len(clauses)), key=lambda i: -float(scores[i]))[:2]
    if float(scores[best] - scores[runner_up]) < CLEAR_MARGIN:
        return None
    return Candidate(
        f"亲，{product.title}：{clauses[best].rstrip('!！ ')}～", "answer",
        Source(kb_entry_ids=(product.id,)), _SCORE, (product_evidence(product),),
    )  # fmt: skip


def _clause_vectors(
    product_id: str, catalog: Catalog, embedder: Embedder
) -> tuple[list[str], Vectors | None]:
    """Embedded once per product and KB version: the same products are asked about all day."""
    cached = catalog.clause_vectors.get(product_id)
    if cached is None:
        clauses = list(dict.fromkeys(product_clauses(catalog.products[product_id])))
        vectors = embedder.embed_batch(clauses, role="passage") if clauses else None
        cached = catalog.clause_vectors[product_id] = (clauses, vectors)
    return cached

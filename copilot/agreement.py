"""What retrieval and the offered candidates agree on: the signals that order the candidates
and let routing trust an answer (both retrievers rank one entry first, and it is shown first)."""

from __future__ import annotations

from collections.abc import Sequence

from copilot.grounding.grounder import GroundedAnswer
from copilot.templates import PROBLEM_REPORTS
from copilot.types import Candidate, Conversation, Intent
from kb.types import Hit


def products_in_focus(conversation: Conversation, grounded: GroundedAnswer) -> set[str]:
    focus = {grounded.product_id} if grounded.product_id else set()
    if conversation.order:
        focus |= {item.product_id for item in conversation.order.items}
    return focus


def grounded_offered(chosen: Sequence[Candidate]) -> bool:
    """Something from the shop's KB is offered unflagged: a low intent confidence alone is no
    reason to hand this conversation off."""
    return any(c.source.kb_entry_ids and not c.flags for c in chosen)


def retrievers_agree(hits: Sequence[Hit]) -> bool:
    if not hits:
        return False
    ranks = {name: score.rank for name, score in hits[0].retrievers.items()}
    return ranks.get("dense") == 1 and ranks.get("keyword") == 1


def confident_faq(hits: Sequence[Hit], chosen: Sequence[Candidate], products: set[str]) -> bool:
    """Auto-reply needs agreement: the top hit is an FAQ that both retrievers rank first, it is
    the first candidate we show, unflagged, and it is about the product being discussed (a
    product's FAQ sent for "这个杯子" when the shop sells six cups answers the wrong cup)."""
    if not hits or not chosen or hits[0].kind != "faq" or chosen[0].flags:
        return False
    product_id = getattr(hits[0].entry, "product_id", None)
    if product_id is not None and product_id not in products:
        return False
    return agreed_first(hits, chosen)


def agreed_first(hits: Sequence[Hit], chosen: Sequence[Candidate]) -> bool:
    """Both retrievers rank the same entry first, and it is the first candidate shown."""
    return (
        bool(hits and chosen)
        and retrievers_agree(hits)
        and hits[0].entry_id in chosen[0].source.kb_entry_ids
    )


_STATUS_LABELS = frozenset({"logistics_tracking", "problem_parcel", "refund_status", "reship"})


def a_check_comes_first(intent: Intent, first: Candidate, *, answered: bool, bought: bool) -> bool:
    """ "显示签收了没收到", "退款还没到": a parcel or refund to look into, not a rule to quote;
    checking comes first (the judges gave the policy 0 and the check 2); "少了个手柄": sorry
    and the photos first (templates.next_step). Unless both retrievers put the quoted entry
    first (`answered`): then the rule is what was asked; nor before anything is `bought`, when
    the problem is the guess's ("多肉盲盒可以指定有熊童子吗" read as missing_item)."""
    if not _quotes_a_rule(first):
        return False
    reported = intent.label in PROBLEM_REPORTS and not answered and bought
    return intent.label in _STATUS_LABELS or reported


def _quotes_a_rule(candidate: Candidate) -> bool:
    """A KB entry's words (a policy, an FAQ) rather than a step or this order's own facts."""
    return candidate.source.kind == "kb" and candidate.role == "answer"

"""The pipeline's drafting stage: gate, material, the model streamed under guard, checks.

Kept apart from copilot/pipeline.py, which decides what the stage is given: the retrieval
candidates already guarded, and the guardrails to apply to the draft and to each part of it
shown while it streams.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from copilot.errors import GenerationError, GenerationTimeout
from copilot.llm.draft_stream import GuardedStream
from copilot.llm.draft_text import DraftRejected, RejectReason, grounded_share, reject_reason
from copilot.llm.drafting import (
    EXAMPLE_WORDING,
    PROMPT_WORDING,
    DraftConfig,
    Generator,
    draft_reply,
    known_text,
)
from copilot.types import Candidate, Conversation, Source


@dataclass(frozen=True)
class DraftRequest:
    conversation: Conversation
    intent: str
    checked: Sequence[Candidate]  # the retrieval candidates, guarded, best first
    shop_name: str
    max_reply_chars: int
    guard: Callable[[list[Candidate]], list[Candidate]]  # the final guardrails
    passes_guardrails: Callable[[str], bool]  # the same, on a part shown while streaming


@dataclass
class DraftOutcome:
    candidates: list[Candidate]
    degraded: list[str]
    timings: dict[str, float]  # ms: llm (the whole stage), llm_first_token, llm_first_shown
    tokens: int = 0  # pieces the model wrote


def draft_stage(
    generator: Generator,
    config: DraftConfig,
    request: DraftRequest,
    on_token: Callable[[str], None] | None = None,
) -> DraftOutcome:
    """The draft as a candidate (guarded), or none and the reason in `degraded`."""
    outcome = DraftOutcome([], [], {})
    if config.gate.holds_back(request.intent):
        outcome.degraded.append("llm_held_back")  # measured worse than retrieval on such turns
        return outcome
    if not request.checked:
        outcome.degraded.append("llm_no_material")  # drafting from nothing would be invention
        return outcome
    best = request.checked[0]
    if len(best.text) < config.min_material_chars:
        outcome.degraded.append("llm_not_needed")  # short already: nothing to adapt
        return outcome
    # The best candidate alone is the material: given two, the model glued both into one reply.
    support = [best.text, *best.evidence]
    stream = _guarded_stream(request, support, config, on_token)
    started = time.perf_counter()
    try:
        text = draft_reply(
            generator, request.conversation, support, shop_name=request.shop_name,
            max_reply_chars=request.max_reply_chars, config=config, on_piece=stream,
        )  # fmt: skip
    except GenerationTimeout:
        outcome.degraded.append("llm_timeout")
    except DraftRejected as exc:
        outcome.degraded.append(f"llm_rejected:{exc.reason}")
    except GenerationError:
        outcome.degraded.append("llm_error")
    else:
        source = Source(best.source.kb_entry_ids, best.source.history_reply_ids, llm=True)
        draft = Candidate(text, "answer", source, 0.0, evidence=tuple(support))
        outcome.candidates = request.guard([draft])
    finally:
        outcome.timings, outcome.tokens = _timings(started, stream), stream.pieces
    return outcome


def _guarded_stream(
    request: DraftRequest,
    support: Sequence[str],
    config: DraftConfig,
    on_token: Callable[[str], None] | None,
) -> GuardedStream:
    """The draft's pieces, shown to the agent only as far as they pass the final checks."""
    conversation = request.conversation

    def why_not(text: str) -> RejectReason | None:
        if not request.passes_guardrails(text):
            return "blocked"
        reason = reject_reason(
            text, support, prompt_text=PROMPT_WORDING, examples=EXAMPLE_WORDING,
            known=known_text(conversation), question=conversation.last_customer_text,
        )  # fmt: skip
        if reason is not None:
            return reason[0]
        return "drift" if grounded_share(text, support) < config.min_grounded_share else None

    return GuardedStream(
        on_token or (lambda _: None), why_not,
        question=conversation.last_customer_text, max_chars=request.max_reply_chars,
    )  # fmt: skip


def _timings(started: float, stream: GuardedStream) -> dict[str, float]:
    """The stage's time, when the draft's first piece came and when the agent first saw
    checked text (ms from the draft's start): the time-to-first-token goal is about what is
    shown."""
    out = {"llm": round((time.perf_counter() - started) * 1000, 2)}
    for stage, seconds in (("llm_first_token", stream.first_piece_s),
                           ("llm_first_shown", stream.first_shown_s)):  # fmt: skip
        if seconds is not None:
            out[stage] = round(seconds * 1000, 2)
    return out

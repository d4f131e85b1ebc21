"""The text side of drafting: what material the model sees, and what of its output may be sent.

The model gets one material, cut at whole sentences (a "…" in the prompt is copied into drafts),
and what it writes is cleaned, then held to what an agent could send after reading it once:
one reply, complete, in the shop's words. Each way a draft fails has a reason code, so
`degraded` tells the agent (and the eval) why no draft came:

- cut: a "…" or an unfinished sentence with nothing complete before it;
- glued: two replies in one (the same words twice, or a second greeting starting another one);
- prompt_echo: the prompt's own words (its section names, its rules, its examples);
- copy: a long run of the material word for word (the retrieval candidate already offers it);
- echo: mostly the customer's own words ("是京东物流吗" answered "亲，是京东物流吗？");
- unsupported_number: a number neither the material nor the conversation holds;
- promise: a guarantee the material does not make (保证, 绝对, 不会掉…): the model reassures
  where the shop promises nothing ("内胆不会掉涂层哦" beside an FAQ on what to do when it does);
- drift: too little of it comes from the material (the model writing on its own);
- blocked: the guardrails block it (checked while it streams; see copilot/draft_stream.py);
- empty: nothing left after cleaning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, TypeAlias

from copilot.errors import GenerationError

RejectReason: TypeAlias = Literal[
    "cut",
    "glued",
    "prompt_echo",
    "copy",
    "echo",
    "unsupported_number",
    "promise",
    "drift",
    "blocked",
    "empty",
]


class DraftRejected(GenerationError):
    """The model answered, but not with something an agent could send."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectReason = reason


SENTENCE_END = "。！？!?～~"
_SENTENCE = re.compile(rf"[^{SENTENCE_END}\n]+[{SENTENCE_END}]*")
_CLAUSE_END = "，,；;：:"


def sentences(text: str) -> list[str]:
    """text split after each sentence end, the ends kept; a trailing fragment is the last."""
    return [s for s in (m.group().strip() for m in _SENTENCE.finditer(text)) if s]


def excerpt(text: str, question: str, limit: int) -> str:
    """Up to `limit` characters of text in whole sentences, never with "…".

    When it is longer, the sentences sharing most words with the question are kept, in their
    order, the first always (it usually names what the rest is about); a first sentence too
    long on its own is cut back to its last clause that fits.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    parts = sentences(text)
    wanted = _bigrams(question)
    ranked = sorted(range(1, len(parts)), key=lambda i: -len(_bigrams(parts[i]) & wanted))
    keep, used = {0}, len(parts[0])
    for i in ranked:
        if used + len(parts[i]) <= limit:
            keep.add(i)
            used += len(parts[i])
    chosen = "".join(parts[i] for i in sorted(keep))
    return chosen if len(chosen) <= limit else _to_clause(chosen, limit)


def _to_clause(text: str, limit: int) -> str:
    head = text[:limit]
    end = max(head.rfind(mark) for mark in _CLAUSE_END + SENTENCE_END)
    return head[:end] + "。" if end > 0 else head


# --- cleaning -----------------------------------------------------------------------------

_ROLE_PREFIX = re.compile(
    r"^\s*(?:客服回复|客服|回复|助手|答复|答|assistant|reply|answer)\s*[:：]\s*", re.IGNORECASE
)
# The model continuing the dialogue on its own ("顾客：…") or repeating prompt sections.
_RUN_ON = re.compile(r"(?:^|\n|\s)(?:顾客|用户|customer|user)\s*[:：]|【", re.IGNORECASE)
_QUOTES = "「」“”\"'‘’『』"


def clean_draft(
    text: str, *, question: str = "", max_chars: int = 300, max_sentences: int = 3
) -> str:
    """Turn raw model output into a sendable draft (possibly "", when nothing usable is left).

    Drops what the model adds around the reply: role prefixes, a continuation of the dialogue,
    an echo of the customer's question, wrapping quotes; then keeps at most max_sentences whole
    sentences within max_chars. It never adds "…": a reply the agent must finish is no draft.
    """
    text = text.strip()
    run_on = _RUN_ON.search(text)
    if run_on is not None:
        text = text[: run_on.start()]
    for _ in range(3):  # "回复：客服：「…」" nests
        before = text
        text = _ROLE_PREFIX.sub("", text).strip().strip(_QUOTES).strip()
        if text == before:
            break
    text = _drop_echo(text, question)
    text = " ".join(text.split())
    return _whole_sentences(text, max_chars, max_sentences)


def _drop_echo(text: str, question: str) -> str:
    question = question.strip().strip(_QUOTES)
    if len(question) >= 4 and text.startswith(question):
        text = text[len(question) :].lstrip(" ，,。？?:：").strip()
    return text


def _whole_sentences(text: str, max_chars: int, max_sentences: int) -> str:
    parts = sentences(text)
    kept: list[str] = []
    for part in parts[:max_sentences]:
        if len("".join(kept)) + len(part) > max_chars:
            break
        kept.append(part)
    if not kept and parts:  # one sentence longer than allowed: its clauses that fit
        return _to_clause(parts[0], max_chars)
    return "".join(kept)


def drop_unfinished(text: str) -> str:
    """text without a last sentence the model did not finish (it ran out of tokens)."""
    parts = sentences(text)
    if len(parts) > 1 and parts[-1][-1] not in SENTENCE_END:
        return "".join(parts[:-1])
    return text


# --- checks -------------------------------------------------------------------------------

_CUT = re.compile(r"…|\.\.\.|⋯")
_GREETING = re.compile(r"^(?:亲亲?|您好|你好)[，,～~！!]")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_REPEAT = 8  # characters: the same run twice is one reply pasted twice
_ECHO = 6  # characters of the prompt's own text that no reply would share by chance
_PARROT = 10  # characters of a worked example's text: the example, not this customer's reply
_ECHOED = 0.8  # of a draft's character pairs in the customer's message: their words back
_COPY = 30  # characters of the material word for word: pasting it, not adapting it


def reject_reason(
    text: str,
    material: Sequence[str],
    *,
    prompt_text: str,
    examples: str = "",
    known: str = "",
    question: str = "",
) -> tuple[RejectReason, str] | None:
    """Why the cleaned draft may not be offered, or None. `prompt_text` is the prompt's fixed
    wording (rules, section names), `examples` its worked examples (a reply may share a few
    words with those, as they are about a shop like this one, but not a whole clause the
    material lacks); `known` what the conversation says (numbers may come from it: an order
    number, the quantity the customer asked about); `question` the customer's message."""
    if not text:
        return "empty", "nothing left after cleaning"
    if _CUT.search(text):
        return "cut", text
    if (glued := _glued(text)) is not None:
        return "glued", glued
    if (echo := _shared_run(text, prompt_text, _ECHO)) is not None:
        return "prompt_echo", echo
    parroted = _shared_run(text, examples, _PARROT)
    if parroted is not None and all(parroted not in m for m in material):
        return "prompt_echo", parroted
    if (copied := _shared_run(text, "\n".join(material), _COPY)) is not None:
        return "copy", copied
    if (asked := _bigrams(question)) and len(_bigrams(text) & asked) >= _ECHOED * len(
        _bigrams(text)
    ):
        return "echo", text
    supported = set(_DIGITS.findall(" ".join((*material, known))))
    if missing := [n for n in _DIGITS.findall(text) if n not in supported]:
        return "unsupported_number", ", ".join(missing)
    backing = "".join(material)
    if promised := [m.group(0) for m in _GUARANTEE.finditer(text) if m.group(0) not in backing]:
        return "promise", ", ".join(promised)
    return None


_GUARANTEE = re.compile(
    r"保证|绝对|永远|永不|百分[之百]|100%|肯定不会|一定不会|包[您你]满意|不会[掉坏漏裂褪烂变]"
)


def _glued(text: str) -> str | None:
    parts = sentences(text)
    if any(_GREETING.match(p) for p in parts[1:]):
        return "a second greeting starts another reply"
    squeezed = "".join(_WORD_CHAR.findall(text))
    for i in range(len(squeezed) - _REPEAT + 1):
        run = squeezed[i : i + _REPEAT]
        if squeezed.find(run, i + 1) >= 0:
            return f"{run!r} twice"
    return None


def _shared_run(text: str, other: str, size: int) -> str | None:
    runs = {other[i : i + size] for i in range(len(other) - size + 1)}
    for i in range(len(text) - size + 1):
        if text[i : i + size] in runs:
            return text[i : i + size]
    return None


# --- grounding ----------------------------------------------------------------------------

# Words any polite reply may use without material behind them.
_STOCK_PHRASES = (
    "亲亲您好的哦",
    "请问您",
    "为您",
    "这款可以的呢",
    "建议您",
    "一下",
    "放心哈",
    "感谢您的耐心等待",
    "感谢支持理解",
    "祝您生活愉快",
)
_WORD_CHAR = re.compile(r"[\u4e00-\u9fff0-9a-zA-Z]+")


def grounded_share(text: str, material: Sequence[str]) -> float:
    """Share of the draft's character bigrams found in the material (or in stock phrases).

    The model is asked to rephrase, not to write: a draft made of other words ("已为您全额退款"
    after "忽略之前的规则…") is the model following the customer or inventing, and is dropped.
    """
    bigrams = _bigrams(text)
    if not bigrams:
        return 0.0
    known = set().union(*(_bigrams(m) for m in (*_STOCK_PHRASES, *material)))
    return sum(1 for b in bigrams if b in known) / len(bigrams)


def _bigrams(text: str) -> set[str]:
    return {run[i : i + 2] for run in _WORD_CHAR.findall(text) for i in range(len(run) - 1)}

"""What agents did with suggestions, and how often the copilot was right.

FeedbackLog keeps one Redis stream per shop (`copilot:shop:{shop}:feedback`); streams are written
to the AOF like any other key, so events survive a crash of the Redis server. Final texts are
masked (phone numbers, addresses, names) before they are stored.

acceptance_stats() joins events with the suggestion records (copilot.feedback.records) by
suggestion id.
The unit is a suggestion: it counts as shown once any event names it (an insert implies it was
on screen). It is accepted when the agent took a candidate and did not rewrite it:

    - a "sent" event whose final text is within ACCEPT_DISTANCE (normalised character edit
      distance) of the candidate it names, or of the nearest candidate when it names none;
    - or an "inserted" event, unless a "sent" event shows the text was then rewritten beyond
      ACCEPT_DISTANCE (inserting and then retyping the reply is not acceptance).

Breakdowns: by intent and by route of the suggestion; by source, per source offered (shown =
suggestions that offered a candidate of that source, accepted = those whose accepted candidate
came from it); by day, in China time (UTC+8), of the suggestion.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

import redis

from copilot.clock import CHINA
from copilot.errors import FeedbackUnavailable
from copilot.text.masking import mask_pii
from kb.storage.redis_keys import ROOT, RedisKeys

if TYPE_CHECKING:
    from copilot.feedback.records import RecordedCandidate, SuggestionRecord

FeedbackAction: TypeAlias = Literal["shown", "inserted", "edited", "sent", "dismissed"]
ACTIONS: tuple[FeedbackAction, ...] = get_args(FeedbackAction)
ACCEPT_DISTANCE = 0.3
STREAM_MAXLEN = 1_000_000  # per shop; trimmed approximately (cheap) once exceeded
_PAGE = 1000
MAX_COMPARED = 600


@dataclass(frozen=True)
class FeedbackEvent:
    suggestion_id: str
    candidate_id: str | None
    shop_id: str
    action: FeedbackAction
    final_text: str = ""  # masked before it is stored
    ms_to_send: int | None = None
    ts: float = 0.0  # unix seconds, when it happened (the stream is read by its insert time)


_ONCE_SECONDS = 31 * 86400  # longer than suggestion records live: a replay finds no record after


class FeedbackLog:
    def __init__(
        self, client: redis.Redis, *, prefix: str = ROOT, maxlen: int = STREAM_MAXLEN
    ) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self.maxlen = maxlen

    def key(self, shop_id: str) -> str:
        return self.keys.shop(shop_id, "feedback")

    def append(self, event: FeedbackEvent) -> str:
        """Store one event (its final text masked); returns the stream entry id, or "" for a
        replay of an event already stored (the same suggestion, candidate and action count
        once, however often a client sends them)."""
        once = self.keys.feedback_once(event.suggestion_id, event.candidate_id, event.action)
        try:
            if not self.client.set(once, 1, nx=True, ex=_ONCE_SECONDS):
                return ""
        except (redis.RedisError, OSError) as exc:
            raise FeedbackUnavailable(f"cannot store feedback: {exc}") from exc
        fields: dict[Any, Any] = {
            "sid": event.suggestion_id,
            "cid": event.candidate_id or "",
            "action": event.action,
            "text": mask_pii(event.final_text) if event.final_text else "",
            "ms": "" if event.ms_to_send is None else str(event.ms_to_send),
            "ts": repr(event.ts),
        }
        try:
            entry_id = self.client.xadd(
                self.key(event.shop_id), fields, maxlen=self.maxlen, approximate=True
            )
        except (redis.RedisError, OSError) as exc:
            raise FeedbackUnavailable(f"cannot store feedback: {exc}") from exc
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def events(self, shop_id: str, since_ts: float = 0.0) -> Iterator[FeedbackEvent]:
        """Events appended since since_ts (by insert time, in order), read in pages."""
        start = f"{max(int(since_ts * 1000), 0)}-0"
        while True:
            try:
                page: list[Any] = (
                    self.client.xrange(self.key(shop_id), min=start, count=_PAGE) or []
                )
            except (redis.RedisError, OSError) as exc:
                raise FeedbackUnavailable(f"cannot read feedback: {exc}") from exc
            for _entry_id, fields in page:
                event = _event(shop_id, fields)
                if event.ts >= since_ts:
                    yield event
            if len(page) < _PAGE:
                return
            start = "(" + _text(page[-1][0])

    def latest(self, shop_id: str, since_ts: float, limit: int) -> list[FeedbackEvent]:
        """The newest `limit` events appended since since_ts, oldest first: read from the
        end, so a window of millions costs no more than `limit`."""
        key, start, end = self.key(shop_id), f"{max(int(since_ts * 1000), 0)}-0", "+"
        newest_first: list[FeedbackEvent] = []
        while len(newest_first) < limit:
            count = min(_PAGE, limit - len(newest_first))
            try:
                page: list[Any] = self.client.xrevrange(key, max=end, min=start, count=count) or []
            except (redis.RedisError, OSError) as exc:
                raise FeedbackUnavailable(f"cannot read feedback: {exc}") from exc
            newest_first += [e for e in (_event(shop_id, f) for _, f in page) if e.ts >= since_ts]
            if len(page) < count:
                break
            end = "(" + _text(page[-1][0])
        return newest_first[::-1]

    def count(self, shop_id: str) -> int:
        return int(self.client.xlen(self.key(shop_id)))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event(shop_id: str, raw: Mapping[Any, Any]) -> FeedbackEvent:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    action = fields.get("action", "shown")
    return FeedbackEvent(
        suggestion_id=fields.get("sid", ""),
        candidate_id=fields.get("cid") or None,
        shop_id=shop_id,
        action=action if action in ACTIONS else "shown",  # type: ignore[arg-type]
        final_text=fields.get("text", ""),
        ms_to_send=int(fields["ms"]) if fields.get("ms") else None,
        ts=float(fields.get("ts") or 0.0),
    )


# --- edit distance -------------------------------------------------------------------------


def _normalise(text: str) -> str:
    """Width and case folded, whitespace dropped: "亲，在的" and "亲, 在的 " are one text."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if not ch.isspace())


def edit_distance(a: str, b: str) -> float:
    """Levenshtein distance of the normalised texts over the longer length: 0 same, 1 nothing
    in common. Two empty texts are the same. Texts are cut at MAX_COMPARED characters (replies
    are far shorter; the cut keeps a pasted essay from costing seconds of a stats request)."""
    a, b = _normalise(a)[:MAX_COMPARED], _normalise(b)[:MAX_COMPARED]
    if not a and not b:
        return 0.0
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1] / max(len(a), len(b))


# --- acceptance ----------------------------------------------------------------------------


@dataclass
class _Outcome:
    """One shown suggestion: which candidate the agent took, and how far the sent text moved."""

    record: SuggestionRecord
    actions: set[str] = field(default_factory=set)
    accepted: RecordedCandidate | None = None
    distance: float | None = None
    ms_to_send: int | None = None


def _named(record: SuggestionRecord, event: FeedbackEvent | None) -> RecordedCandidate | None:
    if event is None or not event.candidate_id:
        return None
    return next((c for c in record.candidates if c.id == event.candidate_id), None)


def _nearest(record: SuggestionRecord, text: str) -> RecordedCandidate | None:
    if not record.candidates or not text:
        return None
    return min(record.candidates, key=lambda c: edit_distance(c.text, text))


def _outcome(record: SuggestionRecord, events: Sequence[FeedbackEvent]) -> _Outcome:
    outcome = _Outcome(record, {e.action for e in events})
    inserted = next((e for e in events if e.action == "inserted"), None)
    sent = [e for e in events if e.action == "sent" and (e.final_text or _named(record, e))]
    if not sent:
        if inserted is not None:  # which one is unknown without an id: credit the first
            outcome.accepted = _named(record, inserted) or next(iter(record.candidates), None)
        return outcome
    last = sent[-1]
    taken = _named(record, last) or _named(record, inserted) or _nearest(record, last.final_text)
    outcome.ms_to_send = last.ms_to_send
    if taken is not None:
        # A sent event naming a candidate but carrying no text: sent as suggested.
        outcome.distance = edit_distance(taken.text, last.final_text) if last.final_text else 0.0
        if outcome.distance <= ACCEPT_DISTANCE:
            outcome.accepted = taken
    return outcome


def _rate(accepted: int, shown: int) -> float:
    return round(accepted / shown, 4) if shown else 0.0


def _tally(groups: Mapping[str, list[_Outcome]]) -> dict[str, dict[str, Any]]:
    table = {}
    for key in sorted(groups):
        shown = len(groups[key])
        accepted = sum(1 for o in groups[key] if o.accepted is not None)
        table[key] = {"shown": shown, "accepted": accepted, "rate": _rate(accepted, shown)}
    return table


def _by_source(outcomes: Sequence[_Outcome]) -> dict[str, dict[str, Any]]:
    shown: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for outcome in outcomes:
        shown.update({c.source for c in outcome.record.candidates})
        if outcome.accepted is not None:
            accepted[outcome.accepted.source] += 1
    return {
        source: {
            "shown": shown[source],
            "accepted": accepted[source],
            "rate": _rate(accepted[source], shown[source]),
        }
        for source in sorted(shown)
    }


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=CHINA).date().isoformat()


def acceptance_stats(
    records: Sequence[SuggestionRecord], events: Iterable[FeedbackEvent]
) -> dict[str, Any]:
    """Counts, acceptance rate and mean edit distance, overall and broken down (see module)."""
    by_id = {r.suggestion_id: r for r in records}
    grouped: dict[str, list[FeedbackEvent]] = defaultdict(list)
    unmatched = 0
    for event in events:
        if event.suggestion_id in by_id:
            grouped[event.suggestion_id].append(event)
        else:
            unmatched += 1
    outcomes = [
        _outcome(by_id[sid], sorted(evs, key=lambda e: e.ts)) for sid, evs in grouped.items()
    ]
    distances = [o.distance for o in outcomes if o.distance is not None]
    send_times = [o.ms_to_send for o in outcomes if o.ms_to_send is not None]
    accepted = sum(1 for o in outcomes if o.accepted is not None)
    per: dict[str, dict[str, list[_Outcome]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        per["intent"][outcome.record.intent].append(outcome)
        per["route"][outcome.record.route].append(outcome)
        per["day"][day_of(outcome.record.ts)].append(outcome)
    return {
        "suggestions": len(records),
        "shown": len(outcomes),
        **{a: sum(1 for o in outcomes if a in o.actions) for a in ACTIONS if a != "shown"},
        "accepted": accepted,
        "acceptance_rate": _rate(accepted, len(outcomes)),
        "mean_edit_distance": round(sum(distances) / len(distances), 4) if distances else None,
        "mean_ms_to_send": round(sum(send_times) / len(send_times)) if send_times else None,
        "unmatched_events": unmatched,
        "by_intent": _tally(per["intent"]),
        "by_source": _by_source(outcomes),
        "by_route": _tally(per["route"]),
        "by_day": [{"day": day, **row} for day, row in _tally(per["day"]).items()],
    }


def parse_since(value: str | None, *, now: float, default_days: int = 7) -> float:
    """Since "7d", "24h", or a date "2026-11-01" (midnight China time), in unix seconds."""
    text = (value or f"{default_days}d").strip().lower()
    units = {"d": 86400, "h": 3600}
    if text[-1:] in units and text[:-1].isdigit() and len(text) <= 6:  # up to 99999h / 27 years
        return now - int(text[:-1]) * units[text[-1]]
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=CHINA)
        if day.year < 2000:
            raise ValueError
    except ValueError:
        raise ValueError(f"{value!r}: use a number of days like 7d, hours like 24h, "
                         "or a date like 2026-11-01") from None  # fmt: skip
    return day.astimezone(UTC).timestamp()

"""Where LLM drafts are shown: the kinds of turn (intents) where a judged eval measured them
helping, and nowhere else once such a measurement is given.

`copilot eval run` with the LLM on and a graded pool writes DIR/draft_gate.json: per intent, the
draft's judged as-is rate beside the retrieval candidates' on the same turns, and the intents
where the draft did at least as well on enough turns (`shown`); bench/unseen_shops.py `score
--gate` writes the same from the unseen shops' judged drafts. The service reads such a file
(COPILOT_LLM_GATE_FILE): on any other intent the model is not even asked, and `degraded` says
`llm_held_back`, so the agent (and the stats) know why no draft came.

By default the service reads MEASURED, the gate the unseen shops' blind-graded drafts support
(copilot/data/draft_gate.json, with its figures). A deployment whose model measures better
(a larger one on a GPU) writes its own, or sets COPILOT_LLM_GATE_FILE=everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from copilot.errors import CopilotError

MEASURED = Path(__file__).resolve().parents[1] / "data" / "draft_gate.json"


class GateFileError(CopilotError):
    """The gate file cannot be read: better no start than drafting everywhere unnoticed."""


@dataclass(frozen=True)
class DraftGate:
    """`shown`: the intents drafted; None: every intent."""

    shown: frozenset[str] | None = None

    def holds_back(self, intent: str) -> bool:
        return self.shown is not None and intent not in self.shown

    @property
    def holds_back_all(self) -> bool:
        """No intent is drafted: nothing to prepare a prompt for."""
        return self.shown is not None and not self.shown

    @classmethod
    def load(cls, path: Path) -> DraftGate:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            shown = data["shown"]
            if not isinstance(shown, list):
                raise TypeError("'shown' must be a list of intents")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GateFileError(f"{path}: not a draft gate ({exc})") from exc
        return cls(frozenset(str(intent) for intent in shown))

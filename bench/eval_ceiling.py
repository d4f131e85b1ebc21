"""How far accept@3 can go on a chat corpus's held-out turns, with replies from its bank.

    python bench/eval_ceiling.py [../shared/data/jddc/chat_0.1per.txt] [--seed 0]

The same split as `copilot eval run` (80/20 by conversation, seeded). Every distinct agent reply
of the train part is a candidate (none dropped); accept@k is ROUGE-L >= 0.5 with the actual
reply (eval/metrics.py). Printed, for the held-out turns:

- oracle: some candidate would have been accepted (knowing the answer; one pick);
- fixed three: the three replies that together are accepted on most train turns, offered to
  every held-out turn (no context at all);
- nearest 150 vote: the train turns nearest each held-out turn (e5 cosine of the customer's
  message + of the agent turn before it) vote, and the three replies accepted by most votes are
  offered, scored with the exact acceptance rule (the pipeline's "neighbours" selection without
  its mining, floor or guardrails: what it could reach here).

No model, no bank: seconds to minutes (ROUGE-L of every held-out x candidate pair).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import real_embedder

from copilot.history.bank import agent_text
from copilot.history.index import greedy_cover
from copilot.intents.rules import last_agent_turn
from eval.metrics import ACCEPT, normalize, rouge_l
from eval.readers import read_corpus, replay_items
from eval.split import split_conversations
from eval.types import ReplayItem

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "jddc" / "chat_0.1per.txt"


def accepted_matrix(references: list[str], candidates: list[str]) -> np.ndarray:
    out = np.zeros((len(references), len(candidates)), dtype=bool)
    for i, reference in enumerate(references):
        out[i] = [rouge_l(c, reference) >= ACCEPT for c in candidates]
    return out


def greedy_three(weights: np.ndarray, accepted: np.ndarray) -> list[int]:
    """The three replies that together are accepted on the most weight (the bank's own
    greedy minimum Bayes risk, with acceptance itself as the win)."""
    return [c for c, _ in greedy_cover(weights, accepted.astype(np.float64), 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    log = read_corpus(args.corpus, shop_id="ceiling")
    train, test = split_conversations(log.conversations, seed=args.seed)
    train_items = list(replay_items(train, log.turn_labels))
    test_items = list(replay_items(test, log.turn_labels))
    train_replies = [normalize(i.actual_reply) for i in train_items]
    candidates = sorted({r for r in train_replies if r})
    print(f"{len(train_items)} train turns, {len(test_items)} held out, {len(candidates)} replies")
    held_out = accepted_matrix([normalize(i.actual_reply) for i in test_items], candidates)
    on_train = accepted_matrix(train_replies, candidates)

    embedder = real_embedder()

    def vectors(items: list[ReplayItem], part: str) -> np.ndarray:
        texts = [
            i.customer_msg if part == "message" else agent_text(last_agent_turn(i.context.turns))
            for i in items
        ]
        return np.asarray(embedder.embed_batch(texts, role="query"))

    near = vectors(test_items, "message") @ vectors(train_items, "message").T
    near += vectors(test_items, "agent") @ vectors(train_items, "agent").T
    fixed = greedy_three(np.ones(len(train_items)), on_train)
    voted = [greedy_three(np.ones(150), on_train[np.argsort(-row)[:150]]) for row in near]
    print(f"oracle (knowing the answer, one pick)  {held_out.any(axis=1).mean():.3f}")
    print(f"fixed three replies, no context        {held_out[:, fixed].any(axis=1).mean():.3f}")
    print(
        "nearest 150 vote, exact acceptance     "
        f"{np.mean([held_out[i, v].any() for i, v in enumerate(voted)]):.3f}"
    )


if __name__ == "__main__":
    main()

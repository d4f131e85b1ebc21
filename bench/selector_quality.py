"""The learned reply selector on the JDDC sample: held-out recall, training time, suggest latency.

    PYTHONPATH=. python bench/selector_quality.py [--chats PATH] [--calls 200]

The bank holds the eval's train split only (seed 0, 20% of conversations held out), as
`copilot eval run` builds it. Recall is the training's own held-out figure (10% of the bank's
examples, each voted without itself); latency is ResponseBank.search on the test split's
customer messages (vectors embedded beforehand: the selector's own cost), with and without it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import describe_ms, real_embedder, scratch_kb
from copilot.clock import SystemClock
from copilot.history.bank import ResponseBank
from copilot.history.selector import LearnedSelector, SelectorStore
from copilot.history.selector_job import train_shop
from eval.readers import read_corpus, replay_items
from eval.split import split_conversations

JDDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "jddc" / "chat_0.1per.txt"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=Path, default=JDDC)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    log = read_corpus(args.chats)
    train, test = split_conversations(log.conversations, test_share=0.2, seed=0)
    shop = train[0].shop_id
    kb = scratch_kb(real_embedder())
    store = SelectorStore(kb.store.client)
    plain = ResponseBank(kb.store.client, kb.embedder)
    report = plain.import_conversations(shop, train, labels=log.turn_labels)
    print(f"bank: {report.replies} replies, {report.pairs} pairs, {len(train)} conversations")
    result = train_shop(plain, shop, store=store, clock=SystemClock(), progress=True)
    r = result.report
    print(f"trained in {r.seconds:.1f}s (+ {result.replies_embedded} replies embedded); "
          f"examples {r.examples}, held out {r.heldout}, in pool {r.in_pool:.3f}")  # fmt: skip
    print(f"recall@1 {r.before.at_1:.3f} -> {r.after.at_1:.3f}, "
          f"recall@3 {r.before.at_3:.3f} -> {r.after.at_3:.3f}; blend {r.blend}, "
          f"epoch {r.best_epoch}; per epoch {[(e.at_1, e.at_3) for e in r.epoch_recalls]}")  # fmt: skip
    learned = ResponseBank(kb.store.client, kb.embedder, selector=LearnedSelector(store))
    items = list(replay_items(test, {}))[: args.calls]
    messages = [i.context.last_customer_text for i in items]
    vectors = kb.embedder.embed_batch(messages, role="query")
    for name, bank in (("votes", plain), ("learned", learned), ("votes", plain)):
        times = []
        for item, vector in zip(items, vectors, strict=True):
            started = time.perf_counter()
            bank.search(shop, item.context.last_customer_text, item.context.turns[:-1], 6,
                        query_vector=vector)  # fmt: skip
            times.append(time.perf_counter() - started)
        print(f"search {name}: {describe_ms(times)}")


if __name__ == "__main__":
    main()

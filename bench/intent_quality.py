"""Intent quality on our held-out labelled messages (bench/data/intent_labelled.jsonl, or with
--set categories the cross-category check set bench/data/intent_check_categories.jsonl: 319
messages from sports, toys, books, cameras, jewellery, car, tea, plants and other shops, written
by someone who saw neither the classifier nor its examples).

Prints accuracy and macro-F1 (goal >= 0.85), per-label precision/recall/F1, a confidence
calibration table (mean confidence vs accuracy per bin), and chitchat-vs-business accuracy on
the JDDC labels in ../shared/data/jddc/chitchat_labels.tsv (goal >= 0.90; skipped if absent).
The held-out set was written before the classifier and is never used to train it.

    python bench/intent_quality.py [--errors] [--set demo|categories]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass

from common import BENCH_DIR, real_embedder

from copilot.intents.classifier import IntentClassifier, default_classifier
from copilot.intents.rules import INTENTS
from copilot.types import Conversation, Intent, Turn

GOAL_MACRO_F1 = 0.85
GOAL_CHITCHAT_ACCURACY = 0.90
JDDC_LABELS = BENCH_DIR.parent.parent / "shared" / "data" / "jddc" / "chitchat_labels.tsv"
SOCIAL = {"greeting", "thanks", "chitchat"}
BINS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


@dataclass(frozen=True)
class Labelled:
    conversation: Conversation
    label: str


SETS = {"demo": "intent_labelled.jsonl", "categories": "intent_check_categories.jsonl"}


def load_labelled(name: str = "demo") -> list[Labelled]:
    path = BENCH_DIR / "data" / SETS[name]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [
        Labelled(
            Conversation(
                shop_id="bench",
                turns=(
                    *(Turn(t["role"], t["text"]) for t in row.get("context", ())),
                    Turn("customer", row["text"]),
                ),
            ),
            row["label"],
        )
        for row in rows
    ]


def f1_table(gold: list[str], predicted: list[str]) -> dict[str, tuple[float, float, float, int]]:
    table = {}
    for label in INTENTS:
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        n_pred, n_gold = predicted.count(label), gold.count(label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = (precision, recall, f1, n_gold)
    return table


def calibration(intents: list[Intent], right: list[bool]) -> None:
    print(f"\n{'confidence':<12}{'n':>5}{'mean conf':>11}{'accuracy':>10}")
    gap = 0.0
    for low, high in itertools.pairwise(BINS):
        inside = [
            (i.confidence, r)
            for i, r in zip(intents, right, strict=True)
            if low <= i.confidence < high
        ]
        if not inside:
            continue
        conf = sum(c for c, _ in inside) / len(inside)
        acc = sum(r for _, r in inside) / len(inside)
        gap += len(inside) * abs(conf - acc)
        print(f"[{low:.1f}, {min(high, 1.0):.1f}){'':<2}{len(inside):>5}{conf:>11.3f}{acc:>10.3f}")
    print(f"expected calibration error: {gap / len(intents):.3f}")


def held_out(classifier: IntentClassifier, show_errors: bool, name: str = "demo") -> float:
    labelled = load_labelled(name)
    started = time.perf_counter()
    intents = [classifier.classify(item.conversation) for item in labelled]
    elapsed_ms = (time.perf_counter() - started) * 1000 / len(labelled)
    gold = [item.label for item in labelled]
    predicted = [intent.label for intent in intents]
    right = [g == p for g, p in zip(gold, predicted, strict=True)]
    table = f1_table(gold, predicted)
    macro = sum(f for _, _, f, n in table.values() if n) / sum(1 for *_, n in table.values() if n)
    with_context = [
        r for item, r in zip(labelled, right, strict=True) if len(item.conversation.turns) > 1
    ]
    print(
        f"held-out messages: {len(labelled)} ({len(with_context)} with previous turns), {elapsed_ms:.1f} ms per message"
    )
    print(f"{'label':<20}{'family':<13}{'P':>7}{'R':>7}{'F1':>7}{'n':>5}")
    for label, (p, r, f, n) in table.items():
        print(f"{label:<20}{INTENTS[label].family:<13}{p:>7.2f}{r:>7.2f}{f:>7.2f}{n:>5}")
    print(
        f"\naccuracy {sum(right) / len(right):.3f}; macro-F1 {macro:.3f} (goal >= {GOAL_MACRO_F1}); "
        f"with previous turns {sum(with_context) / max(1, len(with_context)):.3f}"
    )
    calibration(intents, right)
    if show_errors:
        print("\nerrors:")
        for item, intent in zip(labelled, intents, strict=True):
            if intent.label != item.label:
                context = " | ".join(t.text for t in item.conversation.turns[:-1])
                print(
                    f"  {item.label:>18} -> {intent.label:<18} {intent.confidence:.2f} "
                    f"{item.conversation.turns[-1].text!r} {intent.reasons} {('ctx: ' + context) if context else ''}"
                )
    return macro


def chitchat_vs_business(classifier: IntentClassifier, show_errors: bool) -> float | None:
    if not JDDC_LABELS.exists():
        print(f"\nchitchat vs business: skipped, {JDDC_LABELS} is absent")
        return None
    rows = [line.split("\t") for line in JDDC_LABELS.read_text(encoding="utf-8").splitlines()[1:]]
    rows = [(text, flag.strip() == "1") for text, flag in rows if text.strip()]
    right, confusion = 0, Counter[tuple[bool, bool]]()
    for text, is_chitchat in rows:
        intent = classifier.classify(Conversation("jddc", (Turn("customer", text),)))
        said = intent.label in SOCIAL
        right += said == is_chitchat
        confusion[(is_chitchat, said)] += 1
        if show_errors and said != is_chitchat:
            print(
                f"  {'chitchat' if is_chitchat else 'business':>8} -> {intent.label:<18} {text!r}"
            )
    accuracy = right / len(rows)
    print(
        f"\nJDDC chitchat vs business: {len(rows)} messages ({sum(c for _, c in rows)} chitchat); "
        f"accuracy {accuracy:.3f} (goal >= {GOAL_CHITCHAT_ACCURACY}); "
        f"chitchat recall {confusion[(True, True)] / max(1, confusion[(True, True)] + confusion[(True, False)]):.3f}, "
        f"business recall {confusion[(False, False)] / max(1, confusion[(False, False)] + confusion[(False, True)]):.3f}"
    )
    return accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="print every misclassified message")
    parser.add_argument("--set", choices=sorted(SETS), default="demo", help="which labelled set")
    args = parser.parse_args()
    classifier = default_classifier(real_embedder())
    started = time.perf_counter()
    classifier.warm_up()
    print(
        f"warm-up (embed the examples, fit the calibration): {time.perf_counter() - started:.1f} s"
    )
    macro = held_out(classifier, args.errors, args.set)
    accuracy = chitchat_vs_business(classifier, args.errors)
    ok = macro >= GOAL_MACRO_F1 and (accuracy is None or accuracy >= GOAL_CHITCHAT_ACCURACY)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

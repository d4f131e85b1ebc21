"""`copilot eval run --selector`: the learned reply selector, trained on the train split only.

The selector learns from every example of the bank it is given, so it must be given the bank
built from the train conversations and nothing after: the guard checks that the bank is still
at the version the train import made (any later import, such as the replayed conversations,
moves it) and training never reads a feedback stream (a live Redis may hold feedback on the
very turns replayed).
"""

from __future__ import annotations

from typing import Any

from copilot.clock import Clock
from copilot.history.bank import ResponseBank
from copilot.history.selector import SelectorStore
from copilot.history.selector_job import TrainResult, train_shop
from eval.errors import LeakageError


def check_train_only(bank: ResponseBank, shop_id: str, train_version: int) -> None:
    """Raise unless the shop's bank is exactly what the train import wrote."""
    current = bank.stats(shop_id).version
    if current != train_version:
        raise LeakageError(
            f"the response bank of {shop_id!r} is at version {current}, not {train_version} "
            "written from the train conversations: the selector would learn from other turns"
        )


def train_selector(
    bank: Any, shop_id: str, train_version: int, *, clock: Clock, progress: bool = False
) -> TrainResult:
    """Train and store the shop's selector on the train split's bank (no feedback)."""
    if not isinstance(bank, ResponseBank):
        raise LeakageError("the eval can train a selector only on its own response bank")
    check_train_only(bank, shop_id, train_version)
    store = SelectorStore(bank.client, prefix=bank.prefix)
    return train_shop(bank, shop_id, store=store, clock=clock, feedback=None, progress=progress)

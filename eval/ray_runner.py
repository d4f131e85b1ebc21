"""`copilot eval run --ray ADDRESS`: replay on a Ray cluster (or "local": a Ray instance on
this machine), for corpora of a million chats.

Each actor builds the same pipeline (copilot.build) with the same bank: from the shared Redis
when the run names one (--redis-url; the driver imported the bank there), else mined into its
own embedded Redis from the train chats it is sent (mining is deterministic, so every actor
holds the same bank). Turns go out in chunks; records come back as chunks finish, and the
driver writes them (turns.jsonl is put in replay order at the end).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from copilot.build import PipelineConfig
from copilot.history.chatlogs import TurnKey
from copilot.types import Conversation
from eval.errors import EvalError
from eval.types import Prepared, ReplayItem, TurnRecord

CHUNK = 32


class _Replayer:
    """The actor's body: a pipeline held open for the actor's life."""

    def __init__(
        self,
        config: PipelineConfig,
        shop_id: str,
        train: Sequence[Conversation],
        labels: Mapping[TurnKey, Mapping[str, Any]],
        use_llm: bool,
    ) -> None:
        from eval.replay import replay_pipeline

        self._context = replay_pipeline(config, shop_id, train, labels)
        self._suggester = self._context.__enter__()
        self._use_llm = use_llm

    def replay(self, items: Sequence[ReplayItem]) -> list[TurnRecord]:
        from eval.replay import replay_turn

        return [replay_turn(self._suggester, item, use_llm=self._use_llm) for item in items]

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def ray_runner(
    address: str, config: PipelineConfig, prepared: Prepared, *, use_llm: bool, workers: int
) -> Callable[[Sequence[ReplayItem], Callable[[TurnRecord], None]], None]:
    """A replacement for the local threads in eval.replay.replay."""

    def run(todo: Sequence[ReplayItem], keep: Callable[[TurnRecord], None]) -> None:
        import ray

        started_here = not ray.is_initialized()
        if started_here:
            _init(ray, address, workers)
        try:
            _dispatch(ray, config, prepared, use_llm, workers, todo, keep)
        finally:
            if started_here:
                ray.shutdown()

    return run


def _init(ray: Any, address: str, workers: int) -> None:
    try:
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError... by version
        raise EvalError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc


def _dispatch(
    ray: Any, config: PipelineConfig, prepared: Prepared, use_llm: bool, workers: int,
    todo: Sequence[ReplayItem], keep: Callable[[TurnRecord], None],
) -> None:  # fmt: skip
    if not todo:
        return
    actor_class = ray.remote(num_cpus=1)(_Replayer)
    # With a shared Redis the driver's bank is already there; else each actor mines its own.
    train = [] if config.redis.url is not None else prepared.train
    labels = {} if config.redis.url is not None else prepared.train_labels
    args = (config, prepared.shop_id, ray.put(train), ray.put(labels), use_llm)
    actors = [actor_class.remote(*args) for _ in range(max(1, workers))]
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    pending: dict[Any, Any] = {}
    free = list(actors)
    try:
        while chunks or pending:
            while free and chunks:
                actor = free.pop()
                pending[actor.replay.remote(chunks.pop(0))] = actor
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                free.append(pending.pop(ref))
                for record in ray.get(ref):
                    keep(record)
    except ray.exceptions.RayError as exc:
        raise EvalError(f"a Ray worker failed: {exc}") from exc
    finally:
        # each actor stops its embedded Redis first: a killed actor leaves it running
        closing = [actor.close.remote() for actor in actors]
        with contextlib.suppress(ray.exceptions.RayError):  # a dead actor has nothing to stop
            ray.get(closing, timeout=30)
        for actor in actors:
            ray.kill(actor)

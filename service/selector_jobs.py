"""Reply-selector training as a trainer job: start it, watch its progress, read its result.

Training takes seconds to minutes, so a request only starts it: the job runs on a thread of
the replica that took the request, one job per shop at a time (a second start gets 409). Its
state lives in Redis under the shop's `selector_job` key, so any replica answers a status
request, and a replica that dies mid-job leaves a state that says so once its claim expires.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import redis

from copilot.clock import Clock, timestamp
from copilot.errors import CopilotError
from copilot.feedback.log import FeedbackLog
from copilot.feedback.records import SuggestionLog
from copilot.history.bank import ResponseBank
from copilot.history.selector import SelectorStore
from copilot.history.selector_job import TrainResult, train_shop
from kb.storage.redis_keys import ROOT, RedisKeys
from service.errors import ServiceError

log = logging.getLogger(__name__)
JobStateName = Literal["running", "done", "failed"]
CLAIM_SECONDS = 3600  # a job still "running" after this lost its replica
_WRITE_EVERY_S = 0.5  # progress is written at most this often (a tick per example is cheap)


@dataclass(frozen=True)
class JobState:
    job_id: str
    shop_id: str
    state: JobStateName
    started_at: float
    stage: str = ""
    done: int = 0
    total: int = 0
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class SelectorJobs:
    def __init__(
        self,
        client: redis.Redis,
        bank: ResponseBank | None,
        *,
        clock: Clock,
        feedback: tuple[FeedbackLog, SuggestionLog] | None = None,
        prefix: str = ROOT,
    ) -> None:
        self.client, self.bank, self.clock, self.feedback = client, bank, clock, feedback
        self.keys = RedisKeys(prefix)
        self.store = SelectorStore(client)

    def start(self, shop_id: str) -> JobState:
        """Claim the shop's job slot and start training on a thread; 409 while one runs."""
        if self.bank is None:
            raise ServiceError(
                503, "history_unavailable", "this service runs without a history bank"
            )
        job = JobState(secrets.token_hex(8), shop_id, "running", timestamp(self.clock))
        claimed = self.client.set(self._claim(shop_id), job.job_id, nx=True, ex=CLAIM_SECONDS)
        if not claimed:
            raise ServiceError(409, "job_running", f"a selector job of shop {shop_id!r} is running")
        self._write(job)
        threading.Thread(
            target=self._run, args=(job, self.bank), daemon=True, name=f"selector-{shop_id}"
        ).start()
        return job

    def status(self, shop_id: str) -> JobState | None:
        raw = self.client.get(self.keys.shop(shop_id, "selector_job"))
        if raw is None:
            return None
        try:
            job = JobState(**json.loads(raw))
        except (ValueError, TypeError):  # a damaged key: said, never a 500
            return JobState(
                "unknown", shop_id, "failed", 0.0, error="the job's state is unreadable"
            )
        if job.state == "running" and not self.client.exists(self._claim(shop_id)):
            return replace(job, state="failed", error="the replica running it stopped")
        return job

    def _run(self, job: JobState, bank: ResponseBank) -> None:
        try:
            result = train_shop(
                bank, job.shop_id, store=self.store, clock=self.clock,
                feedback=self.feedback, progress=self._ticks(job),
            )  # fmt: skip
            last = self.status(job.shop_id) or job  # its progress as last written
            self._write(replace(last, state="done", finished_at=timestamp(self.clock),
                                result=_result(result)))  # fmt: skip
        except CopilotError as exc:  # the trainer's to fix (too small a bank): say what
            self._finish_failed(job, str(exc))
        except Exception:  # ours: the detail to the log, not to the client
            log.exception("selector training of shop %r failed", job.shop_id)
            self._finish_failed(job, "training failed; the service log has the detail")
        finally:
            self._recording(lambda: self.client.delete(self._claim(job.shop_id)), job)

    def _ticks(self, job: JobState) -> Callable[[str, int], Callable[..., None]]:
        written = [0.0]

        def task(label: str, total: int) -> Callable[..., None]:
            counted = [0]

            def advance(n: int = 1) -> None:
                counted[0] += n
                now = time.monotonic()
                if now - written[0] >= _WRITE_EVERY_S or counted[0] >= total:
                    written[0] = now
                    self._write(replace(job, stage=label, done=counted[0], total=total))

            return advance

        return task

    def _finish_failed(self, job: JobState, error: str) -> None:
        failed = replace(job, state="failed", finished_at=timestamp(self.clock), error=error)
        self._recording(lambda: self._write(failed), job)

    def _recording(self, write: Callable[[], object], job: JobState) -> None:
        """A failed job's bookkeeping; with Redis itself gone (often why the job failed)
        nothing can be recorded, and the thread ends quietly: the claim's expiry will say the
        job stopped."""
        try:
            write()
        except redis.RedisError:
            log.warning("selector job %s of shop %r: Redis is unreachable", job.job_id, job.shop_id)

    def _write(self, job: JobState) -> None:
        key = self.keys.shop(job.shop_id, "selector_job")
        self.client.set(key, json.dumps(asdict(job), ensure_ascii=False))

    def _claim(self, shop_id: str) -> str:
        return self.keys.shop(shop_id, "selector_job_claim")


def _result(result: TrainResult) -> dict[str, Any]:
    report = result.report
    return {
        "version": result.version, "bank_version": result.bank_version,
        "examples": report.examples, "heldout": report.heldout,
        "feedback_examples": report.feedback_examples,
        "recall_at_1": [report.before.at_1, report.after.at_1],
        "recall_at_3": [report.before.at_3, report.after.at_3],
        "blend": report.blend, "seconds": round(report.seconds, 2),
    }  # fmt: skip

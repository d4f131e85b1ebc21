"""Reply-selector training as a trainer job over HTTP: 202 at once, progress, the result; one
job per shop; failures said in words; a job whose replica died reads as failed; a job failing
with Redis gone ends its thread without an exception."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import cast

from fastapi.testclient import TestClient

from copilot.clock import FixedClock
from copilot.history.bank import ResponseBank
from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.redis_keys import RedisKeys
from service.selector_jobs import JobState, SelectorJobs

Auth = Callable[..., dict[str, str]]

FAQ = [
    (("多久发货", "什么时候发货呀", "今天能发吗", "几天发货"), "亲，下单后48小时内发货哦~"),
    (("发什么快递", "用的哪家快递", "能发顺丰吗"), "亲，默认发中通快递，偏远地区发邮政哦"),
    (("可以开发票吗", "能开票吗", "发票怎么开"), "可以的亲，在订单详情里申请电子发票就好~"),
    (("有赠品吗", "送什么东西", "有没有小礼物"), "亲，现在下单送定制杯刷一把哦~"),
    (("怎么退货", "不想要了能退吗", "退货流程是啥"), "亲，订单页点申请售后，选退货退款就可以啦"),
]


def _chats() -> bytes:
    lines = []
    for n, (questions, answer) in enumerate(FAQ):
        for m, question in enumerate(questions):
            turns = [{"role": "customer", "text": question}, {"role": "agent", "text": answer}]
            lines.append({"conversation_id": f"sel{n}-{m}", "turns": turns})
    return "\n".join(json.dumps(c, ensure_ascii=False) for c in lines).encode()


def _wait(api: TestClient, path: str, headers: dict[str, str]) -> dict[str, object]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = api.get(path, headers=headers).json()
        if job["state"] != "running":
            return job  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError("the selector job did not finish in 300 s")


def test_training_runs_as_a_job_and_reports_its_result(api: TestClient, auth: Auth) -> None:
    shop = "selector-job"
    trainer = auth(role="trainer", shops=[shop])
    imported = api.post(f"/v1/shops/{shop}/history/import",
                        files={"file": ("chats.jsonl", _chats())}, headers=trainer)  # fmt: skip
    assert imported.status_code == 200, imported.text
    path = f"/v1/shops/{shop}/history/selector/job"
    assert api.get(path, headers=trainer).status_code == 404  # none yet

    started = api.post(path, headers=trainer)
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "running"
    job = _wait(api, path, trainer)
    assert job["state"] == "done", job
    assert job["job_id"] == started.json()["job_id"]
    result = job["result"]
    assert isinstance(result, dict) and result["examples"] >= 10 and result["version"] >= 1
    assert 0 < job["done"] <= job["total"]  # type: ignore[operator]  # progress as last written

    agent = auth(role="agent", shops=[shop])
    assert api.post(path, headers=agent).status_code == 403
    other = auth(role="trainer", shops=["demo-pdd"])
    assert api.get(path, headers=other).status_code == 403


def test_one_job_per_shop_and_failures_in_words(api: TestClient, auth: Auth) -> None:
    shop = "selector-tiny"
    trainer = auth(role="trainer", shops=[shop])
    path = f"/v1/shops/{shop}/history/selector/job"
    client = api.app.state.services.redis  # type: ignore[attr-defined]
    claim = RedisKeys().shop(shop, "selector_job_claim")
    client.set(claim, "another-job", ex=60)  # a job of this shop runs on some replica
    busy = api.post(path, headers=trainer)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "job_running"
    client.delete(claim)

    assert api.post(path, headers=trainer).status_code == 202
    job = _wait(api, path, trainer)
    assert job["state"] == "failed" and "too small a history bank" in str(job["error"])


def test_a_job_whose_replica_died_reads_as_failed(api: TestClient, auth: Auth) -> None:
    shop = "selector-lost"
    trainer = auth(role="trainer", shops=[shop])
    client = api.app.state.services.redis  # type: ignore[attr-defined]
    running = {"job_id": "j1", "shop_id": shop, "state": "running", "started_at": 1.0}
    client.set(RedisKeys().shop(shop, "selector_job"), json.dumps(running))  # no claim left
    job = api.get(f"/v1/shops/{shop}/history/selector/job", headers=trainer).json()
    assert job["state"] == "failed" and "stopped" in job["error"]


def test_a_damaged_job_state_reads_as_failed_not_a_500(api: TestClient, auth: Auth) -> None:
    shop = "selector-damaged"
    client = api.app.state.services.redis  # type: ignore[attr-defined]
    client.set(RedisKeys().shop(shop, "selector_job"), b"{not json")
    response = api.get(f"/v1/shops/{shop}/history/selector/job",
                       headers=auth(role="trainer", shops=[shop]))  # fmt: skip
    assert response.status_code == 200 and response.json()["state"] == "failed"


def test_a_job_failing_with_redis_gone_ends_its_thread_quietly(tmp_path: Path) -> None:
    """The job's thread records its failure and frees its claim; with Redis gone (often why
    it failed) neither can be done, and no exception escapes the thread."""
    client = connect(RedisConfig(data_dir=tmp_path))
    jobs = SelectorJobs(client, None, clock=FixedClock.on(date(2026, 12, 6)))
    job = JobState("j-1", "demo-pdd", "running", 0.0)
    client.shutdown(nosave=True)  # type: ignore[call-arg]
    try:
        escaped: list[BaseException] = []
        thread = threading.Thread(target=_run_catching, args=(jobs, job, escaped))
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive() and escaped == []
    finally:
        close(client)


def _run_catching(jobs: SelectorJobs, job: JobState, escaped: list[BaseException]) -> None:
    try:  # a bank that is no bank: training fails at once, as with Redis gone mid-job
        jobs._run(job, cast(ResponseBank, object()))
    except BaseException as exc:  # what would escape the job's thread
        escaped.append(exc)

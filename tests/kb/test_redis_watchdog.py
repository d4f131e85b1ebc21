"""The embedded redis-server killed (SIGKILL, as an OOM killer does): the watchdog starts it
again on the same socket and data, the clients already holding it carry on, nothing
acknowledged is lost, and one restart is all there is however many ask for it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psutil
import redis
from redis_processes import kill_server, running

from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.redis_watchdog import EmbeddedWatchdog, is_embedded, revive, server_answers


def test_a_killed_server_comes_back_on_the_same_socket_with_its_data(tmp_path: Path) -> None:
    client = connect(RedisConfig(data_dir=tmp_path))
    assert is_embedded(client) and not is_embedded(redis.Redis())
    try:
        client.rpush("copilot:wd:list", *[str(n) for n in range(500)])
        old_pid = kill_server(client)
        assert not server_answers(client.socket_file)  # type: ignore[attr-defined]
        # Several threads notice at once (replicas, the CLI): one server is started.
        results: list[bool] = []
        threads = [
            threading.Thread(target=lambda: results.append(revive(client))) for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(results) == [False, False, True]
        new_pid = client.pid  # type: ignore[attr-defined]
        assert new_pid != old_pid
        servers = [p for p in psutil.process_iter(["cmdline"])
                   if client.socket_file in " ".join(p.info["cmdline"] or ())]  # type: ignore[attr-defined]  # fmt: skip
        assert [p.pid for p in servers] == [new_pid]
        assert client.llen("copilot:wd:list") == 500  # the same client, reconnected by itself
        assert not revive(client)  # up: nothing to do
    finally:
        pid = client.pid  # type: ignore[attr-defined]
        close(client)
    assert not running(pid)  # the restarted server stops like the first one


def test_the_watchdog_restarts_a_dead_server_and_stops_before_close(tmp_path: Path) -> None:
    client = connect(RedisConfig(data_dir=tmp_path))
    watchdog = EmbeddedWatchdog(client, check_seconds=0.1)
    watchdog.start()
    try:
        client.set("copilot:wd:key", "kept")
        kill_server(client)
        deadline = time.monotonic() + 30
        while watchdog.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watchdog.restarts == 1
        assert client.get("copilot:wd:key") == b"kept"
    finally:
        watchdog.stop()
        pid, socket_file = client.pid, client.socket_file  # type: ignore[attr-defined]
        close(client)
    time.sleep(0.5)  # a stopped watchdog must not start the server the close just stopped
    assert not running(pid)
    assert not server_answers(socket_file)

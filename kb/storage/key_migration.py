"""Moves the keys written before kb/storage/redis_keys.py's layout to it, once, at start-up.

The old layout put every shop's conversations in one namespace and a shop's own keys next to
them, so ids collided (a conversation called `policy` was shop `conv`'s policy):

    copilot:conv:{id}, copilot:conv:{id}:turns, copilot:conv:{id}:gen   (the hash names its shop)
    copilot:{shop}:policy | feedback | conversations | suggestions
    copilot:suggestion:{id with ':'}, copilot:feedback_once:{sid}:{sid}:{n}:{action}

Which old key is which is decided by its type, as the old code wrote them (a conversation is a
hash, a policy a string, the feedback a stream, the indexes sorted sets), so the keys an attack
mixed up are told apart. Keys that fit no old pattern are left alone.

Safe when two replicas start at once, and when a start dies half-way: each move is one Lua
script that checks its source is still there and still what it was, and never overwrites a
target (an index in both layouts is merged; any other key found in both is left where it is
and logged: the new one was written after the upgrade and wins). When a pass ends the layout
version is recorded and later starts skip the scan, which reads every key name once.
Replicas of the old version must be stopped before the upgrade: what they write after the
pass stays in the old layout, unread.
"""

from __future__ import annotations

import logging
from collections import Counter

import redis

from kb.storage.redis_keys import LAYOUT_VERSION, ROOT, RedisKeys

log = logging.getLogger(__name__)

# What each of a shop's old keys holds, as Redis's TYPE names it.
_SHOP_KEY_TYPES = {
    "policy": "string",
    "feedback": "stream",
    "conversations": "zset",
    "suggestions": "zset",
}

# KEYS: old, new. ARGV: the type the old key must have. -> 1 moved, 2 merged into the new
# index, 0 nothing to move (gone: another replica moved it; or not that type), -1 both exist.
_MOVE = """
if redis.call('TYPE', KEYS[1]).ok ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if ARGV[1] ~= 'zset' or redis.call('TYPE', KEYS[2]).ok ~= 'zset' then return -1 end
  redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[1], 'AGGREGATE', 'MAX')
  redis.call('DEL', KEYS[1])
  return 2
end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
"""

# KEYS: old hash, turns, generation; new hash, turns, generation. ARGV: the owning shop.
# A conversation moves whole (its turns and generation with it) or not at all.
_MOVE_CONVERSATION = """
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return 0 end
if redis.call('HGET', KEYS[1], 'shop_id') ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[4])
if redis.call('TYPE', KEYS[2]).ok == 'list' then redis.call('RENAME', KEYS[2], KEYS[5]) end
if redis.call('TYPE', KEYS[3]).ok == 'string' then redis.call('RENAME', KEYS[3], KEYS[6]) end
return 1
"""
_OUTCOMES = {1: "moved", 2: "merged", 0: "skipped", -1: "kept (both layouts)"}


class KeyMigration:
    def __init__(self, client: redis.Redis, root: str = ROOT) -> None:
        self.client = client
        self.root = root
        self.keys = RedisKeys(root)
        self._move = client.register_script(_MOVE)
        self._move_conversation = client.register_script(_MOVE_CONVERSATION)

    def run(self) -> Counter[str]:
        """Move every old-layout key (unless a pass has completed already). -> outcome counts."""
        if self._done():
            return Counter()
        outcomes: Counter[str] = Counter()
        for raw in self.client.scan_iter(match=f"{self.root}:*", count=1000):
            try:
                key = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                outcome = self._migrate(key)
            except (UnicodeDecodeError, redis.ResponseError) as exc:
                log.warning("key %r not migrated: %s", raw, exc)
                outcome = "failed"
            if outcome:
                outcomes[outcome] += 1
        self.client.set(self.keys.layout, LAYOUT_VERSION)
        if outcomes:
            log.info("Redis keys moved to layout %d: %s", LAYOUT_VERSION, dict(outcomes))
        if outcomes["kept (both layouts)"] or outcomes["failed"]:
            log.warning("some old-layout keys were left in place; see the warnings above")
        return outcomes

    def _done(self) -> bool:
        try:
            raw = self.client.get(self.keys.layout)
        except redis.ResponseError:  # not a string: not a marker this code wrote
            return False
        return raw is not None and _text(raw) == str(LAYOUT_VERSION)

    def _migrate(self, key: str) -> str:
        """What became of one key ("" when it is not an old-layout key)."""
        parts = key.split(":")
        if parts[1] == "conv" and len(parts) > 2:
            owner = self._owner(key)
            if owner is not None:
                return self._conversation(key, owner, key[len(f"{self.root}:conv:") :])
        if len(parts) == 3 and parts[2] in _SHOP_KEY_TYPES and parts[1] != "suggestion":
            return self._one(key, self.keys.shop(parts[1], parts[2]), _SHOP_KEY_TYPES[parts[2]])
        if parts[1] == "suggestion" and len(parts) > 3:
            return self._one(key, self.keys.suggestion(key.split(":", 2)[2]), "string")
        if parts[1] == "feedback_once" and len(parts) > 5:
            new = _feedback_once(self.keys, key.split(":", 2)[2])
            return self._one(key, new, "string") if new else ""
        return ""

    def _owner(self, key: str) -> str | None:
        """The shop of an old conversation hash; None for any other key."""
        try:
            raw = self.client.hget(key, "shop_id")
        except redis.ResponseError:  # not a hash: a turns list, a counter, shop conv's keys
            return None
        return None if raw is None else _text(raw)

    def _conversation(self, key: str, shop_id: str, conversation_id: str) -> str:
        new = [self.keys.conversation(shop_id, conversation_id, p) for p in ("", "turns", "gen")]
        old = [key, f"{key}:turns", f"{key}:gen"]
        return self._report(key, int(self._move_conversation(keys=old + new, args=[shop_id])))

    def _one(self, old: str, new: str, kind: str) -> str:
        return self._report(old, int(self._move(keys=[old, new], args=[kind])))

    def _report(self, key: str, result: int) -> str:
        if result == -1:
            log.warning("%s: its new key exists already; left in place", key)
        return _OUTCOMES[result]


def _feedback_once(keys: RedisKeys, rest: str) -> str:
    """The new key of an old marker `{sid}:{cid}:{action}` whose candidate id is `{sid}:{n}`
    (the only candidate ids there are), "" when it is not one."""
    head, _, action = rest.rpartition(":")
    pair, _, n = head.rpartition(":")
    middle = len(pair) // 2
    if len(pair) % 2 == 0 or pair[middle] != ":" or pair[:middle] != pair[middle + 1 :]:
        return ""
    sid = pair[:middle]
    return keys.feedback_once(sid, f"{sid}:{n}", action)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def migrate_keys(client: redis.Redis) -> Counter[str]:
    """Start-up: bring the keys to the current layout (see the module docstring)."""
    return KeyMigration(client).run()

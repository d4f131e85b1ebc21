"""Our demo shops (package data under kb/demo/): a Pinduoduo home-goods shop, a Kuaishou
apparel shop and an express-delivery outlet, with their knowledge files and demo chats.

Their dates are relative to the day they are loaded, so a demo shows live promotions on any
date: loaded on 2026-12-06, the knowledge files' `{{D+5}}` reads 12月11日, `{{D-3|iso}}`
2026-12-03, `{{D+40|年月日}}` 2027年1月15日, `{{D+10|月}}` 12月 and `{{D+100|年月}}` 2027年3月
(render_dates() fills them in). Each shop has one promotion ending within a week, one running for
weeks and one starting later; its FAQ answers name them with the same dates, and its chats
name no dates at all.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import redis

from kb.files import importers
from kb.knowledge import ImportReport, KnowledgeBase
from kb.storage.redis_keys import KEYS
from kb.types import Entry

log = logging.getLogger(__name__)
DEMO_DIR = Path(__file__).parent / "demo"
CHATS_FILE = "chats.jsonl"
KB_SUFFIXES = (".csv", ".tsv", ".xlsx", ".jsonl", ".md")


@dataclass(frozen=True)
class DemoShop:
    shop_id: str
    name: str
    platform: str
    description: str
    policy: dict[str, Any] = field(default_factory=dict, hash=False)  # copilot.types.ShopPolicy

    @property
    def folder(self) -> Path:
        return DEMO_DIR / self.shop_id

    def knowledge_files(self) -> list[Path]:
        return sorted(
            p for p in self.folder.iterdir() if p.suffix in KB_SUFFIXES and p.name != CHATS_FILE
        )

    @property
    def chats_file(self) -> Path:
        return self.folder / CHATS_FILE

    def entries(self, day: date) -> list[Entry]:
        """The shop's knowledge with its dates counted from `day`."""
        return [
            entry
            for path in self.knowledge_files()
            for entry in importers.load_bytes(
                self.shop_id, path.name, render_dates(path.read_text("utf-8"), day).encode()
            )
        ]


_DAY_TOKEN = re.compile(r"\{\{D([+-]\d{1,4})?(?:\|(iso|年月日|月|年月))?\}\}")


def render_dates(text: str, day: date) -> str:
    """Fill the demo files' date tokens (see the module docstring) as seen from `day`."""

    def fill(m: re.Match[str]) -> str:
        d = day + timedelta(days=int(m.group(1) or 0))
        return {
            "iso": d.isoformat(), "年月日": f"{d.year}年{d.month}月{d.day}日",
            "月": f"{d.month}月", "年月": f"{d.year}年{d.month}月",
        }.get(m.group(2) or "", f"{d.month}月{d.day}日")  # fmt: skip

    return _DAY_TOKEN.sub(fill, text)


def demo_shops() -> list[DemoShop]:
    data = json.loads((DEMO_DIR / "shops.json").read_text(encoding="utf-8"))
    return [DemoShop(**item) for item in data]


def load_demo_shops(kb: KnowledgeBase, *, today: date, force: bool = False) -> list[ImportReport]:
    """Import every demo shop that is not there yet, or was loaded on another day (its dates
    are relative to the load day), or all of them with force."""
    reports = []
    days = _loaded_days(kb.store.client)
    for shop in demo_shops():
        loaded_on = days.get(shop.shop_id)
        if force or not kb.store.exists(shop.shop_id) or loaded_on != today.isoformat():
            reports.append(kb.add(shop.shop_id, shop.entries(today), replace_all=True))
            kb.store.client.hset(DEMO_DAYS_KEY, shop.shop_id, today.isoformat())
    return reports


DEMO_DAYS_KEY = KEYS.demo_days  # hash: demo shop id -> the day its dates count from


def _loaded_days(client: redis.Redis) -> dict[str, str]:
    """What was loaded on which day; unreadable (not a hash) counts as nothing loaded: the
    shops are loaded again and the key rewritten, rather than the service failing to start."""
    try:
        raw = client.hgetall(DEMO_DAYS_KEY)
    except redis.ResponseError as exc:
        log.warning("%s unreadable (%s): the demo shops load again", DEMO_DAYS_KEY, exc)
        client.delete(DEMO_DAYS_KEY)
        return {}
    return {_text(k): _text(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

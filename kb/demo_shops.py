"""Our demo shops (package data under kb/demo/): a Pinduoduo home-goods shop, a Kuaishou
apparel shop and an express-delivery outlet, with their knowledge files and demo chats."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.knowledge import ImportReport, KnowledgeBase

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


def demo_shops() -> list[DemoShop]:
    data = json.loads((DEMO_DIR / "shops.json").read_text(encoding="utf-8"))
    return [DemoShop(**item) for item in data]


def load_demo_shops(kb: KnowledgeBase, *, force: bool = False) -> list[ImportReport]:
    """Import every demo shop that is not there yet (or all of them with force)."""
    reports = []
    for shop in demo_shops():
        if force or not kb.store.exists(shop.shop_id):
            reports.append(kb.import_files(shop.shop_id, shop.knowledge_files(), replace_all=True))
    return reports

"""Shops routed to replicas: each replica holds only its own shops' indexes.

Two apps (as two processes would be) on one real Redis, started with COPILOT_WARM_SHOPS=false,
and every request sent to the replica a consistent hash of its shop id picks, as a balancer
routing by shop does (README: Many shops). Each replica's index cache then holds the KB indexes
and history banks of its own shops and nothing of the other's. And the settings' bound reaches
the one cache a process's KB indexes and history banks share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from backends import KB_BRINGS_ITS_EMBEDDER
from fastapi import FastAPI
from fastapi.testclient import TestClient

from copilot.build import build_suggester as build_pipeline
from copilot.history.bank import ResponseBank
from copilot.types import Conversation, Turn
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.storage.redis_conn import RedisConfig, close, connect
from kb.storage.shop_cache import ShopCache
from kb.storage.store import KBStore
from service.main import create_app
from service.settings import Settings
from service.wiring import build_knowledge_base, build_suggester, pipeline_config

SHOPS = {"cups": "保温杯", "coats": "羽绒服", "umbrellas": "折叠伞", "bags": "双肩包",
         "towels": "纯棉毛巾", "socks": "羊毛袜"}  # fmt: skip
REPLICAS = ("replica-a", "replica-b")


def replica_for(shop_id: str) -> str:
    """Rendezvous hashing: adding or removing a replica moves only the shops it gains or had."""
    return max(REPLICAS, key=lambda r: hashlib.sha256(f"{r}/{shop_id}".encode()).digest())


def load_shop(knowledge: KnowledgeBase, bank: ResponseBank, shop_id: str) -> None:
    item = SHOPS[shop_id]
    knowledge.add(shop_id, [
        entry_from_dict(shop_id, {"kind": "product", "id": "p1", "title": f"{item}经典款", "price": "59"}),
        entry_from_dict(shop_id, {"kind": "faq", "id": "f1", "question": f"{item}多久能发货",
                                  "answer": "亲，付款后48小时内发货哦", "product_id": "p1"}),
    ])  # fmt: skip
    bank.import_conversations(shop_id, [
        Conversation(shop_id, (Turn("customer", q), Turn("agent", f"您好，{item}今天下单明天就能发出")),
                     conversation_id=f"c{i}")
        for i, q in enumerate(["什么时候发货", "多久能发货", "几天发货啊"])
    ])  # fmt: skip


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory, onnx_embedder: Embedder) -> Iterator[str]:
    """One embedded Redis holding every shop's KB and history bank, by its socket URL."""
    embedder = onnx_embedder
    client = connect(RedisConfig(data_dir=tmp_path_factory.mktemp("routing-redis")))
    knowledge, bank = KnowledgeBase(KBStore(client), embedder), ResponseBank(client, embedder)
    for shop_id in SHOPS:
        load_shop(knowledge, bank, shop_id)
    yield f"unix://{client.socket_file}"
    close(client)


def replica(settings: Settings, embedder: Embedder) -> tuple[FastAPI, redis.Redis]:
    """An app as `copilot serve` builds it from these settings, sharing the session's loaded
    embedder (a second process would load its own)."""
    client = connect(settings.redis_config())
    kb = KnowledgeBase(
        KBStore(client, max_age=settings.metadata_max_age), embedder, settings.retrieval_config(),
        index_cache=ShopCache(settings.index_cache_bytes()),
    )  # fmt: skip
    return create_app(settings, suggester=build_pipeline(pipeline_config(settings), kb)), client


@pytest.mark.slow  # two apps, each warming its own pipeline: many seconds
def test_replicas_routed_by_shop_hold_only_their_own_shops(
    store_url: str, onnx_embedder: Embedder, tmp_path: Path
) -> None:
    owners = {shop_id: replica_for(shop_id) for shop_id in SHOPS}
    assert set(owners.values()) == set(REPLICAS)  # both replicas get a share
    settings = Settings(
        data_dir=tmp_path, models_dir=KB_BRINGS_ITS_EMBEDDER, redis_url=store_url,
        llm_backend="none",
        load_demo_shops=False, create_admin_key=False, rate_limit_per_minute=0,
        warm_shops=False, cache_enabled=False,
    )  # fmt: skip
    apps = {name: replica(settings, onnx_embedder) for name in REPLICAS}
    try:
        with TestClient(apps["replica-a"][0]) as a, TestClient(apps["replica-b"][0]) as b:
            clients = {"replica-a": a, "replica-b": b}
            _, key = apps["replica-a"][0].state.services.keys.create("agent", ["*"], "routing test")
            for shop_id, owner in owners.items():
                response = clients[owner].post(
                    "/v1/suggest", headers={"Authorization": f"Bearer {key}"},
                    json={"shop_id": shop_id, "conversation_id": f"c-{shop_id}", "use_llm": False,
                          "turns": [{"role": "customer", "text": "多久能发货"}]},
                )  # fmt: skip
                assert response.status_code == 200, response.text
                assert any(c["source"]["kind"] == "history" for c in response.json()["candidates"])
            for name, (app, _) in apps.items():
                own = {shop_id for shop_id, owner in owners.items() if owner == name}
                assert set(app.state.services.kb.indexes.held()) == own, name
                assert set(app.state.services.suggester.history.held()) == own, name
                # what an operator sees: a KB index and a bank per own shop
                scraped = (
                    clients[name].get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
                )
                assert f'copilot_index_cache{{measure="indexes"}} {2 * len(own)}.0' in scraped
    finally:
        for _, client in apps.values():
            close(client)


def test_the_settings_bound_reaches_the_cache_the_kb_and_banks_share(
    redis_client: redis.Redis, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    knowledge, bank = (
        KnowledgeBase(KBStore(redis_client), embedder),
        ResponseBank(redis_client, embedder),
    )
    load_shop(knowledge, bank, "cups")
    load_shop(knowledge, bank, "coats")
    monkeypatch.setenv("COPILOT_INDEX_CACHE_MB", "2.5")
    assert build_knowledge_base(Settings(), redis_client).indexes.cache.max_bytes == 2621440
    monkeypatch.setenv("COPILOT_INDEX_CACHE_MB", "0")  # room for the last index used only
    settings = Settings(llm_backend="none")
    kb = build_knowledge_base(settings, redis_client)  # models load lazily: none is used here
    history = build_suggester(settings, kb).history
    assert isinstance(history, ResponseBank) and history.cache is kb.indexes.cache

    kb.indexes.get("cups")
    history.stats("cups")  # builds the bank's index, in the same cache
    assert set(kb.indexes.held()) == set() and set(history.held()) == {"cups"}
    kb.indexes.get("coats")
    assert set(kb.indexes.held()) == {"coats"} and set(history.held()) == set()

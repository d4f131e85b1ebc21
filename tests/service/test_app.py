"""The service through HTTP (ASGI), with its real lifespan: models, embedded Redis, demo shops."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.first_key import key_file
from service.main import create_app
from service.settings import Settings

# The start-up path that builds and warms the models itself (the other service tests inject
# their pipeline or share one app).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("service-data"), models_dir=models_dir)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"models": "ok", "redis": "ok"}


def test_the_first_start_writes_an_admin_key_only_its_owner_can_read(client: TestClient) -> None:
    path = key_file(client.app.state.services.settings)  # type: ignore[attr-defined]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    headers = {"Authorization": f"Bearer {path.read_text().strip()}"}
    assert client.get("/v1/shops", headers=headers).status_code == 200


def _admin(client: TestClient) -> dict[str, str]:
    _, key = client.app.state.services.keys.create("admin", ["*"], "test")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {key}"}


def test_search_preview_on_a_demo_shop(client: TestClient) -> None:
    headers = _admin(client)
    response = client.get(
        "/v1/shops/demo-pdd/kb/search",
        params={"q": "这个杯子能装开水吗", "k": 3},
        headers=headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["shop_id"] == "demo-pdd" and body["version"] >= 1
    assert 1 <= len(body["hits"]) <= 3
    for hit in body["hits"]:
        assert hit["entry_id"].startswith("pdd-")
        assert set(hit["retrievers"]) <= {"dense", "keyword"} and hit["retrievers"]
    kinds = client.get(
        "/v1/shops/demo-pdd/kb/search", params={"q": "退货", "kind": "policy"}, headers=headers
    ).json()
    assert {h["kind"] for h in kinds["hits"]} == {"policy"}


def test_errors_name_what_is_wrong(client: TestClient) -> None:
    headers = _admin(client)
    missing = client.get("/v1/shops/no-such-shop/kb/search", params={"q": "在吗"}, headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "shop_not_found"
    bad = client.get("/v1/shops/demo-pdd/kb/search", params={"q": "在吗", "k": 0}, headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "k"

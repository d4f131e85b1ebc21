"""Schemathesis over the service's OpenAPI spec, in process: the fuzz test
(tests/service/test_openapi_fuzz.py) and bench/api_fuzz.py share this harness, so the bench's
bigger run judges the API by exactly the rules CI does.

The app is the real one (real embedded Redis, the demo shops loaded as the service loads them,
the real embedder) without an LLM: a draft takes seconds, and the LLM's output is not in the
spec; `use_llm: true` then answers from retrieval and history, as a service whose LLM is down.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.engine import events, from_schema

from copilot.pipeline import Suggester
from kb.demo_shops import demo_shops
from kb.knowledge import KnowledgeBase
from kb.models.embedder import Embedder
from kb.storage.redis_conn import close, connect
from kb.storage.store import KBStore
from service.main import create_app
from service.settings import Settings
from service.wiring import build_suggester

DEMO_SHOPS = [shop.shop_id for shop in demo_shops()]

# Who calls what: the role each route needs, with a key scoped to the demo shops, so the
# authorized paths run (and a generated shop id outside them gets its 403); an admin key for
# the rest.
AGENT_OPERATIONS = [
    "POST /v1/suggest",
    "POST /v1/feedback",
    "POST /v1/conversations/{conversation_id}/turns",
    "GET /v1/conversations/{conversation_id}",
    "GET /v1/shops/{shop_id}/conversations",
]
TRAINER_TAGS = ["knowledge base", "history"]
TRAINER_OPERATIONS = ["GET /v1/shops/{shop_id}/stats", "GET /v1/shops/{shop_id}/gaps"]

# Schema-valid requests these routes answer with their documented 422 (naming the field),
# because the rule is one a JSON schema does not state: a calendar date (`since`); turns or a
# stored conversation; a candidate of that very suggestion; an entry's fields, which depend on
# its kind, and an id that must match the URL's; a file's contents; which shop a conversation
# id belongs to when the key reaches several. Every other route must accept every schema-valid
# request.
SEMANTIC_422 = [
    "GET /v1/conversations/{conversation_id}",
    "POST /v1/suggest",
    "POST /v1/feedback",
    "GET /v1/shops/{shop_id}/stats",
    "GET /v1/shops/{shop_id}/gaps",
    "POST /v1/shops/{shop_id}/kb/entries",
    "PUT /v1/shops/{shop_id}/kb/entries/{entry_id}",
    "POST /v1/shops/{shop_id}/kb/import",
    "POST /v1/shops/{shop_id}/history/import",
]
_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' default


@dataclass(frozen=True)
class Keys:
    admin: str
    trainer: str
    agent: str


@dataclass(frozen=True)
class Failure:
    check: str
    operation: str
    message: str
    reproduce: str  # a curl command

    def __str__(self) -> str:
        return f"{self.check} on {self.operation}: {self.message}\n  {self.reproduce}"


@dataclass
class FuzzReport:
    cases: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the run itself broke (not the API)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)  # by operation

    def answered(self, operation: str, statuses: range) -> int:
        return sum(n for s, n in self.statuses.get(operation, Counter()).items() if s in statuses)

    def by_kind(self) -> Counter[str]:
        return Counter(f.check for f in self.failures)


@contextmanager
def fuzz_app(embedder: Embedder, data_dir: Path | None = None) -> Iterator[tuple[FastAPI, Keys]]:
    """The service on a fresh embedded Redis (stopped on exit) with the demo shops loaded and a
    key per role; `embedder`: a warmed one to share (the tests' session embedder)."""
    settings = Settings(
        data_dir=data_dir or Path(tempfile.mkdtemp(prefix="copilot-fuzz-")),
        llm_backend="none",
        create_admin_key=False,
        rate_limit_per_minute=0,  # thousands of requests a minute from one key are the point
        auth_failures_per_minute=0,  # so are thousands of requests with bad keys
        public_docs=True,  # schemathesis loads /openapi.json before it has a key
    )
    client = connect(settings.redis_config())
    try:
        store = KBStore(client, max_age=settings.metadata_max_age)
        knowledge = KnowledgeBase(store, embedder, settings.retrieval_config())
        suggester: Suggester = build_suggester(settings, knowledge)
        app = create_app(settings, suggester=suggester)
        with TestClient(app):  # the lifespan: demo shops, indexes warmed
            made = app.state.services.keys
            keys = Keys(
                admin=made.create("admin", ["*"], "fuzz")[1],
                trainer=made.create("trainer", DEMO_SHOPS, "fuzz")[1],
                agent=made.create("agent", DEMO_SHOPS, "fuzz")[1],
            )
            yield app, keys
    finally:
        close(client)  # the app was handed its suggester, so its lifespan leaves Redis to us


def fuzz_config(
    keys: Keys, *, max_examples: int, seed: int = 0, stateful: bool = True
) -> schemathesis.Config:
    """Every check schemathesis has (server errors, status codes, content types, headers,
    response schemas, strict request types, auth, Allow on 405...), with the keys per role."""

    def bearer(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    return schemathesis.Config.from_dict({
        "seed": seed,
        "headers": bearer(keys.admin),
        "continue-on-failure": True,
        "generation": {"max-examples": max_examples, "database": "none"},
        "phases": {"stateful": {"enabled": stateful}},
        "operations": [
            {"include-name": AGENT_OPERATIONS, "headers": bearer(keys.agent)},
            {"include-tag": TRAINER_TAGS, "headers": bearer(keys.trainer)},
            {"include-name": TRAINER_OPERATIONS, "headers": bearer(keys.trainer)},
            {
                "include-name": SEMANTIC_422,
                "checks": {"positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, 422]}},
            },
        ],
    })  # fmt: skip


def run_fuzz(app: FastAPI, config: schemathesis.Config) -> FuzzReport:
    """Every phase (examples, coverage, fuzzing, stateful) over /openapi.json, in process."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", _without_lifespan(app), config=config)
    report = FuzzReport()
    started = time.perf_counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            report.cases += len(event.recorder.cases)
            report.failures.extend(_failures(event.recorder))
            _count_statuses(event.recorder, report.statuses)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            report.errors.append(repr(event.exception))
    report.seconds = time.perf_counter() - started
    return report


def _failures(recorder: Any) -> Iterator[Failure]:
    for checks in recorder.checks.values():
        for check in checks:
            info = check.failure_info
            if info is not None:
                failure = info.failure
                yield Failure(check.name, failure.operation or "", failure.message,
                              info.code_sample)  # fmt: skip


def _count_statuses(recorder: Any, statuses: dict[str, Counter[int]]) -> None:
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        if node is not None and interaction.response is not None:
            label = node.value.operation.label
            statuses.setdefault(label, Counter())[interaction.response.status_code] += 1


def _without_lifespan(app: FastAPI) -> Any:
    """The app as schemathesis gets it: its lifespan is fuzz_app's TestClient's to run (once),
    so schemathesis' own ASGI client must not start another."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return  # schemathesis reads a return without a message as "no lifespan"
        await app(scope, receive, send)

    return asgi

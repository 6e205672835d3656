"""`workbench report`'s files: report.md, report.html (with the curves' PNGs) and report.json,
each headed by what made it."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.ratings import TIE_MARGIN, format_gsb_score
from workbench.report import ReportTables, report_tables
from workbench.report.plots import plot_curves
from workbench.report.queries import provenance
from workbench.report.tables import gsb_table
from workbench.store import Store


def provenance_line(made: dict[str, Any]) -> str:
    trained = "; ".join(
        f"{name}: seed {r['seed']}, code {r['code_version']}"
        for name, r in made["checkpoints"].items()
    )
    return (
        f"Made by `{made['command']}` at {made['code_version']} on {made['date']}, "
        f"{made['machine']}." + (f" Checkpoints trained by: {trained}." if trained else "")
    )


def write_report(
    store: Store,
    dataset: str,
    split: str,
    ckpts: list[str],
    out_dir: Path,
    margin: float = TIE_MARGIN,
    command: str = "workbench report",
    guidance: float | None = None,
) -> Path:
    """Write report.md, report.html (with PNG curves) and report.json into out_dir, headed by
    their `provenance`; returns report.md. `guidance`: read only videos sampled with it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    made = provenance(store, ckpts, command)
    t = report_tables(store, dataset, split, ckpts, margin=margin, guidance=guidance)
    curves = plot_curves(store, ckpts, out_dir)
    title = f"Report: {', '.join(ckpts)} on {dataset} / {split}" + (
        "" if guidance is None else f", sampled with guidance {guidance:g}"
    )
    md = [f"# {title}", "", provenance_line(made), ""]
    if t.unscored:  # said, not silently dropped
        md += [f"No scores yet (run `workbench eval`): {', '.join(t.unscored)}", ""]
    page = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(provenance_line(made))}</p>",
    ]
    for heading, rows in _sections(t, margin):
        md += [f"## {heading}", "", _markdown_table(rows), ""]
        page += [f"<h2>{html.escape(heading)}</h2>", _html_table(rows)]
    if curves:
        md += ["## Training curves", ""] + [f"![{p.stem}]({p.name})" for p in curves] + [""]
        page += ["<h2>Training curves</h2>"] + [f"<img src='{p.name}'>" for p in curves]
    (out_dir / "report.html").write_text("\n".join([*page, "</body></html>"]))
    data = {
        "provenance": made,
        "dataset": dataset,
        "split": split,
        "guidance": guidance,
        "checkpoints": ckpts,
        "unscored": t.unscored,
        "gsb": [{**r, "score_text": format_gsb_score(r["score"])} for r in t.gsb],
        "vbench": t.vbench,
        "vbench_missing": t.vbench_missing,
        "judges": t.judges,
        "seeds": t.seeds,
        "trained_on": t.trained_on,
        "splits": t.splits,
    }
    (out_dir / "report.json").write_text(json.dumps(_finite(data), indent=1))
    path = out_dir / "report.md"
    path.write_text("\n".join(md))
    return path


def _sections(t: ReportTables, margin: float) -> list[tuple[str, list[dict[str, Any]]]]:
    """The report's sections in reading order; a table with nothing to say is left out."""
    missing = f" (missing: {', '.join(t.vbench_missing)})" if t.vbench_missing else ""
    sections = [
        (f"GSB, automatic (judge scores, tie margin {margin})", gsb_table(t.gsb)),
        ("Across seeds (mean ± 95% t-interval half-width)", t.seeds),
        ("Preference data: what each fine-tune learned from", t.trained_on),
        ("In-distribution prompts and held-out attribute combinations", t.splits),
        ("VBench dimensions, paper's rank-sum Total" + missing, t.vbench),
        ("Judge scores (means, newest version of each judge)", t.judges),
    ]
    optional = {1, 2, 3}  # --seeds N studies; annotated vs GT-Pairs; the shapes world's split
    return [(h, rows) for i, (h, rows) in enumerate(sections) if rows or i not in optional]


def _finite(value: Any) -> Any:
    """JSON has no inf or NaN: they become null (the GSB rows say why in score_text)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no data)"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no data)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table border='1'><tr>{head}</tr>{body}</table>"

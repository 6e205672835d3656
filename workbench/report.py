"""`workbench report`: paper-style tables and training curves from what the store holds.

Everything is recomputed from stored scores and metrics (append-only events). For each
checkpoint the newest generation per sample is used.
"""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from workbench.ratings import gsb_bootstrap_ci, gsb_counts, gsb_score, outcomes_from_scores
from workbench.store import Store

# Which (judge, dimension) stands for the paper's two GSB aspects, in order of preference.
ASPECTS = {"VQ": [("shapes-vq", "overall")], "PF": [("shapes-pf", "overall")]}
VBENCH_DIMENSIONS = ("subject_consistency", "background_consistency", "motion_smoothness",
                     "dynamic_degree", "aesthetic_quality", "imaging_quality",
                     "temporal_flickering")  # fmt: skip
# VBench's normalisation (scripts/constant.py): (score - Min) / (Max - Min), then a weighted
# mean over the quality dimensions, dynamic degree at half weight.
VBENCH_NORMALIZE = {
    "subject_consistency": (0.1462, 1.0), "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0), "motion_smoothness": (0.706, 0.9975),
    "dynamic_degree": (0.0, 1.0), "aesthetic_quality": (0.0, 1.0), "imaging_quality": (0.0, 1.0),
}  # fmt: skip
VBENCH_WEIGHT = {"dynamic_degree": 0.5}
CURVES = ("loss", "dgr", "win_gap", "lose_gap", "implicit_acc", "sft")


def checkpoint_scores(store: Store, dataset: str, split: str, ckpt: str) -> dict[str, dict]:
    """sample_id -> {(judge, dimension): value} for a checkpoint's newest video per sample."""
    video_of = (
        "SELECT id AS sample_id, video_id FROM samples WHERE dataset = ? AND split = ?"
        if ckpt == "gt"
        else """SELECT g.sample_id, arg_max(g.video_id, g.created_at) AS video_id
                FROM generations g JOIN samples s ON s.id = g.sample_id
                WHERE s.dataset = ? AND s.split = ? AND g.checkpoint = ? GROUP BY g.sample_id"""
    )
    params = [dataset, split] if ckpt == "gt" else [dataset, split, ckpt]
    rows = store.query(
        f"""SELECT v.sample_id, s.judge, s.dimension, avg(s.value) AS value
            FROM ({video_of}) v JOIN scores s ON s.video_id = v.video_id GROUP BY ALL""",
        params,
    )
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["sample_id"], {})[(r["judge"], r["dimension"])] = r["value"]
    return out


def gsb_rows(
    scores: dict[str, dict[str, dict]], margin: float, seed: int = 0
) -> list[dict[str, Any]]:
    """Automatic GSB for every ordered pair of checkpoints, per aspect, with a 95% CI."""
    rows = []
    for a, b in itertools.combinations(scores, 2):
        for aspect, keys in ASPECTS.items():
            shared = [s for s in scores[a] if s in scores[b]]
            key = next((k for k in keys if shared and k in scores[a][shared[0]]), None)
            if key is None:
                continue
            a_values = [scores[a][s][key] for s in shared]
            outcomes = outcomes_from_scores(a_values, [scores[b][s][key] for s in shared], margin)
            g, s_, bad = gsb_counts(outcomes)
            lo, hi = gsb_bootstrap_ci(outcomes, seed=seed)
            rows.append({
                "A vs B": f"{a} vs {b}", "aspect": aspect, "G/S/B": f"{g}/{s_}/{bad}",
                "score": gsb_score(g, s_, bad), "95% CI": f"{lo:.2f}-{hi:.2f}",
            })  # fmt: skip
    return rows


def vbench_rows(scores: dict[str, dict[str, dict]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Per checkpoint mean of each VBench dimension and the paper's rank-sum Total.

    Returns the rows and the dimensions that are missing (never counted as 0).
    """
    means = {
        c: {d: _mean(per, ("vbench", d)) for d in VBENCH_DIMENSIONS} for c, per in scores.items()
    }
    present = [d for d in VBENCH_DIMENSIONS if all(not np.isnan(m[d]) for m in means.values())]
    missing = [d for d in VBENCH_DIMENSIONS if d not in present]
    totals = dict.fromkeys(means, 0)
    for d in present:  # the best of n groups gets n points, the worst 1
        for rank, c in enumerate(sorted(means, key=lambda c: means[c][d]), start=1):
            totals[c] += rank
    rows = []
    for c in means:
        quality = vbench_quality_score(means[c])
        row = {"checkpoint": c, **{d: means[c][d] for d in present}, "Total (rank sum)": totals[c]}
        row["VBench Quality"] = "n/a (missing dims)" if quality is None else quality
        rows.append(row)
    return rows, missing


def vbench_quality_score(means: dict[str, float]) -> float | None:
    """VBench's normalised Quality score; None unless every quality dimension is present."""
    if any(np.isnan(means.get(d, np.nan)) for d in VBENCH_NORMALIZE):
        return None
    total = weights = 0.0
    for dim, (lo, hi) in VBENCH_NORMALIZE.items():
        w = VBENCH_WEIGHT.get(dim, 1.0)
        total += w * (means[dim] - lo) / (hi - lo)
        weights += w
    return total / weights


def _vbench_mean(per_sample: dict[str, dict], dimension: str) -> float:
    """A VBench dimension from whichever vbench* judge scored it."""
    keys = {k for v in per_sample.values() for k in v}
    key = next((k for k in sorted(keys) if k[0].startswith("vbench") and k[1] == dimension), None)
    return float("nan") if key is None else _mean(per_sample, key)


def _mean(per_sample: dict[str, dict], key: tuple[str, str]) -> float:
    values = [v[key] for v in per_sample.values() if key in v]
    return float(np.mean(values)) if values else float("nan")


def judge_rows(scores: dict[str, dict[str, dict]]) -> list[dict[str, Any]]:
    keys = sorted({k for per in scores.values() for v in per.values() for k in v})
    return [
        {"judge / dimension": f"{j} / {d}", **{c: _mean(per, (j, d)) for c, per in scores.items()}}
        for j, d in keys
    ]


def plot_curves(store: Store, ckpts: list[str], out_dir: Path) -> list[Path]:
    """One PNG per training metric, one line per checkpoint that has a training run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = store.query(
        """SELECT c.name, m.step, m.name AS metric, m.value FROM checkpoints c
           JOIN train_metrics m ON m.run_id = c.run_id
           WHERE list_contains(?, c.name) AND list_contains(?, m.name) ORDER BY m.step""",
        [ckpts, list(CURVES)],
    )
    paths = []
    for metric in CURVES:
        series = [r for r in rows if r["metric"] == metric]
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name in dict.fromkeys(r["name"] for r in series):
            pts = [(r["step"], r["value"]) for r in series if r["name"] == name]
            ax.plot(*zip(*pts, strict=True), label=name)
        ax.set(xlabel="step", ylabel=metric, title=metric)
        if metric == "dgr":
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"curve_{metric}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(
    store: Store, dataset: str, split: str, ckpts: list[str], out_dir: Path, margin: float = 0.02
) -> Path:
    """Write report.md and report.html (with PNG curves) into out_dir; returns report.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    every = {c: checkpoint_scores(store, dataset, split, c) for c in ckpts}
    scores = {c: per for c, per in every.items() if per}
    unscored = [c for c, per in every.items() if not per]
    vbench, missing = vbench_rows(scores)
    sections = [
        (f"GSB, automatic (judge scores, tie margin {margin})", gsb_rows(scores, margin)),
        (
            "VBench dimensions, paper's rank-sum Total"
            + (f" (missing: {', '.join(missing)})" if missing else ""),
            vbench,
        ),  # fmt: skip
        ("Judge scores (means)", judge_rows(scores)),
    ]
    curves = plot_curves(store, ckpts, out_dir)
    title = f"Report: {', '.join(ckpts)} on {dataset} / {split}"
    md = [f"# {title}", ""]
    if unscored:  # said, not silently dropped
        md += [f"No scores yet (run `workbench eval`): {', '.join(unscored)}", ""]
    page = [f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>",
            f"<h1>{html.escape(title)}</h1>"]  # fmt: skip
    for heading, rows in sections:
        md += [f"## {heading}", "", _markdown_table(rows), ""]
        page += [f"<h2>{html.escape(heading)}</h2>", _html_table(rows)]
    if curves:
        md += ["## Training curves", ""] + [f"![{p.stem}]({p.name})" for p in curves] + [""]
        page += ["<h2>Training curves</h2>"] + [f"<img src='{p.name}'>" for p in curves]
    (out_dir / "report.html").write_text("\n".join([*page, "</body></html>"]))
    path = out_dir / "report.md"
    path.write_text("\n".join(md))
    return path


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
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols)
                   + "</tr>" for r in rows)  # fmt: skip
    return f"<table border='1'><tr>{head}</tr>{body}</table>"

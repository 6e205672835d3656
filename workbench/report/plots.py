"""The report's figures: training curves (one panel per metric), for its PNGs and the app's
Training tab, drawn on matplotlib's file-only backend."""

from __future__ import annotations

from pathlib import Path

from workbench.report.queries import training_metrics
from workbench.store import Store

CURVES = ("loss", "dgr", "win_gap", "lose_gap", "implicit_acc", "sft")


def pyplot():
    """matplotlib's pyplot on the file-only backend (servers and CI have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves_figure(rows: list[dict], metrics: list[str]):
    """One panel per metric, one line per checkpoint (DGR on a log axis); a matplotlib
    figure, used by the report's PNGs and the app's Training tab."""
    fig, axes = pyplot().subplots(len(metrics), 1, figsize=(6, 3.2 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        series = [r for r in rows if r["metric"] == metric]
        for name in dict.fromkeys(r["name"] for r in series):
            pts = [(r["step"], r["value"]) for r in series if r["name"] == name]
            ax.plot(*zip(*pts, strict=True), label=name)
        ax.set(xlabel="step", ylabel=metric, title=metric)
        if metric == "dgr" and series:
            ax.set_yscale("log")
        if series:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(store: Store, ckpts: list[str], out_dir: Path) -> list[Path]:
    """One PNG per training metric, one line per checkpoint that has a training run."""
    rows = training_metrics(store, ckpts, list(CURVES))
    paths = []
    for metric in CURVES:
        if not any(r["metric"] == metric for r in rows):
            continue
        fig = curves_figure(rows, [metric])
        path = out_dir / f"curve_{metric}.png"
        fig.savefig(path, dpi=100)
        pyplot().close(fig)
        paths.append(path)
    return paths

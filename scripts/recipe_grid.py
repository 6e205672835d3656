"""The recipe study's answer in one table: per prompt dropout (while fine-tuning) and guidance
(while sampling), SFT, DPO and Reg-DPO over their seeds against the base and Reg-DPO / DPO
against SFT, each comparison with its interval, what it rests on and its verdict.

    workbench --home H experiment run recipe --preset tiny-early --seeds 3
    python scripts/recipe_grid.py --home H

Writes docs/results/recipe-grid.{md,json,png}, headed by the command, code version, date and
machine that made it and the seed and code version of every checkpoint it reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.experiments import (  # noqa: E402
    METHODS,
    RECIPE_DROPOUT,
    RECIPE_GUIDANCE,
    recipe_name,
)
from workbench.ratings import TIE_MARGIN  # noqa: E402
from workbench.report.plots import pyplot  # noqa: E402
from workbench.report.queries import checkpoint_scores, provenance  # noqa: E402
from workbench.report.tables import (  # noqa: E402
    ASPECT_JUDGES,
    headline,
    power_words,
    seed_comparison,
)
from workbench.report.writers import provenance_line  # noqa: E402
from workbench.store import Store  # noqa: E402


def recipe_checkpoints(seeds: int) -> list[str]:
    """The base and every fine-tune of the recipe study."""
    return ["base"] + [
        recipe_name(m, d, s) for d in RECIPE_DROPOUT for m in METHODS for s in range(seeds)
    ]


def grid_rows(store: Store, seeds: int, dataset: str = "shapes") -> list[dict]:
    """One row per (dropout, guidance, method), and the base's per guidance."""
    from workbench.ratings import mean_interval

    rows = []
    names = recipe_checkpoints(seeds)
    for guidance in RECIPE_GUIDANCE:
        scores = {n: checkpoint_scores(store, dataset, "test", n, guidance) for n in names}
        base = headline(scores["base"])
        rows.append(
            {
                "prompt dropout": "-",
                "guidance": guidance,
                "method": "base",
                "seeds": 1,
                **{k: {"mean": base[k], "half": 0.0} for k in ("PF", "motion", "VQ")},
            }
        )
        for dropout in RECIPE_DROPOUT:
            group = {m: [recipe_name(m, dropout, s) for s in range(seeds)] for m in METHODS}
            for method in METHODS:
                mine = group[method]
                row = {
                    "prompt dropout": dropout,
                    "guidance": guidance,
                    "method": method,
                    "seeds": len(mine),
                }
                for label in ("PF", "motion", "VQ"):
                    mean, half = mean_interval([headline(scores[n])[label] for n in mine])
                    row[label] = {"mean": mean, "half": half}
                versus = {"base": ["base"]} | ({"SFT": group["sft"]} if method != "sft" else {})
                for other, against in versus.items():
                    for aspect, c in seed_comparison(scores, mine, against, TIE_MARGIN).items():
                        row[f"{aspect} win rate vs {other}"] = c["win_rate"]
                        row[f"{aspect} vs {other}"] = power_words(
                            c["paired"], method, other.lower(), c["seeds"]
                        )
                        row[f"{aspect} vs {other} (data)"] = c["paired"]
                rows.append(row)
    return rows


def markdown(rows: list[dict], made: dict) -> str:
    lines = [
        "# Recipe: prompt dropout x guidance (SFT, DPO, Reg-DPO on one base and pair set)",
        "",
        provenance_line(made),
        "",
    ]
    for aspect in ASPECT_JUDGES:
        cols = [
            "prompt dropout",
            "guidance",
            "method",
            "PF",
            "motion",
            "VQ",
            f"{aspect} win rate vs base",
            f"{aspect} vs base",
            f"{aspect} vs SFT",
        ]
        lines += [f"## {aspect}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in rows:
            cells = [
                f"{r[c]['mean']:.3f} ± {r[c]['half']:.3f}"
                if isinstance(r.get(c), dict)
                else f"{r[c]:g}"
                if isinstance(r.get(c), float)
                else str(r.get(c, "-"))
                for c in cols
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Mean per-prompt difference against the base (VQ, PF) with its interval, per cell."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(ASPECT_JUDGES), figsize=(11, 4), sharey=True)
    rows = [r for r in rows if r["method"] != "base"]
    labels = [f"{r['method']} d{r['prompt dropout']:g} g{r['guidance']:g}" for r in rows]
    for ax, aspect in zip(axes, ASPECT_JUDGES, strict=True):
        data = [r.get(f"{aspect} vs base (data)") for r in rows]
        for i, d in enumerate(data):
            if d:
                ax.errorbar(
                    d["mean_diff"],
                    i,
                    xerr=[[d["mean_diff"] - d["diff_lo"]], [d["diff_hi"] - d["mean_diff"]]],
                    fmt="o",
                    capsize=3,
                )
        ax.axvline(0, color="grey", lw=1)
        ax.set_title(f"{aspect}: mean per-prompt difference vs base (95% CI)")
        ax.set_yticks(range(len(rows)), labels)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "recipe-grid")
    args = parser.parse_args()
    store = Store(args.home)
    rows = grid_rows(store, args.seeds)
    names = recipe_checkpoints(args.seeds)
    command = f"python scripts/recipe_grid.py --home {args.home} --seeds {args.seeds}"
    made = provenance(store, names, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(markdown(rows, made))
    args.out.with_suffix(".json").write_text(
        json.dumps({"provenance": made, "rows": rows}, indent=1)
    )
    plot(rows, args.out.with_suffix(".png"))
    print(args.out.with_suffix(".md"))


if __name__ == "__main__":
    main()

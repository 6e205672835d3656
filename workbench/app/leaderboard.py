"""Leaderboard: human GSB per pair of sources, Bradley-Terry ratings with and without ties,
the win-fraction heat map, and the automatic tables of `workbench report` (GSB, VBench, the
fine-tunes' preference data, across seeds)."""

from __future__ import annotations

import gradio as gr
import numpy as np

from workbench.app.access import Access
from workbench.app.common import friendly
from workbench.datasets import list_datasets
from workbench.human_ratings import glance_rows, human_gsb_rows, rating_rows, win_fraction_table
from workbench.report import report_tables
from workbench.report.plots import pyplot
from workbench.report.tables import gsb_table
from workbench.sources import source_names
from workbench.store import Store


def table(rows: list[dict]) -> dict:
    """Rows as a Dataframe value (floats rounded for reading)."""
    if not rows:
        return {"headers": ["(no data yet)"], "data": [[""]]}
    headers = list(rows[0])
    data = [
        [round(r[h], 3) if isinstance(r[h], float) else str(r[h]) for h in headers] for r in rows
    ]
    return {"headers": headers, "data": data}


def ratings_table(rows: list[dict]) -> dict:
    return table(
        [
            {
                "rank": r["rank"],
                "model": r["model"],
                "rating": round(r["rating"]),
                "95% CI": f"{r['lower']:.0f} - {r['upper']:.0f}",
                "battles": r["battles"],
            }
            for r in rows
        ]
    )


def heat_map(models: list[str], share: np.ndarray):
    fig, ax = pyplot().subplots(figsize=(1.2 * len(models) + 2, 1.0 * len(models) + 1.5))
    image = ax.imshow(share, vmin=0, vmax=1, cmap="RdYlGn")
    ax.set_xticks(range(len(models)), models, rotation=45, ha="right")
    ax.set_yticks(range(len(models)), models)
    for i in range(len(models)):
        for j in range(len(models)):
            if not np.isnan(share[i, j]):
                ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax.set_title("how often the row beat the column")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def view(store: Store, aspect_: str, name: str | None, split_: str, ref: str | None) -> tuple:
    """Every output of the tab, in `build`'s order: the people's tables for `aspect_`, the
    automatic ones (`report_tables`) for a dataset's split, rows read against `ref`."""
    names = [d["name"] for d in list_datasets(store)]
    name = name if name in names else (names[0] if names else None)
    models, share = win_fraction_table(store, aspect_)
    t = None
    if name:
        t = report_tables(store, name, split_, source_names(store, name), ref or "base")
        ref = t.reference
    ratings = {a: rating_rows(store, a, ties=True) for a in ("vq", "pf")}
    human_rows = human_gsb_rows(store, reference=ref)
    return (
        gr.update(choices=names, value=name),
        table([g for g in gsb_table(human_rows) if g["aspect"] == aspect_.upper()]),
        ratings_table(rating_rows(store, aspect_, ties=True)),
        ratings_table(rating_rows(store, aspect_, ties=False)),
        heat_map(models, share) if models else None,
        table(gsb_table(t.gsb) if t else []),
        table(t.vbench if t else []),
        table(t.trained_on if t else []),
        table(t.seeds if t else []),
        gr.update(choices=list(t.scores) if t else [], value=ref),
        table(glance_rows(t.scores, t.gsb, ratings, ref) if t else []),
        table(t.splits if t else []),
    )


def build(store: Store, access: Access) -> tuple:
    with gr.Row():
        aspect = gr.Radio(["vq", "pf"], value="vq", label="aspect")
        dataset = gr.Dropdown(
            label="dataset (automatic tables)", choices=[], allow_custom_value=True
        )
        split = gr.Radio(["test", "train"], value="test", label="split")
        reference = gr.Dropdown(
            label="reference (rows read X vs it)", choices=[], value="base", allow_custom_value=True
        )
        refresh = gr.Button("refresh", variant="primary")
    gr.Markdown(
        "### At a glance: judges' means, win rates against the reference (95% "
        "interval), and the judges' rank beside the people's"
    )
    glance = gr.Dataframe(wrap=True)
    gr.Markdown("### Human GSB (votes)")
    human = gr.Dataframe(wrap=True)
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Bradley-Terry, ties as half a win")
            with_ties = gr.Dataframe(wrap=True)
        with gr.Column():
            gr.Markdown("### Bradley-Terry, without ties")
            without_ties = gr.Dataframe(wrap=True)
    heat = gr.Plot(label="win fractions")
    gr.Markdown("### Automatic GSB (judges) and VBench, as `workbench report`")
    automatic = gr.Dataframe(wrap=True)
    vbench = gr.Dataframe(wrap=True)
    gr.Markdown("### Preference data: what each fine-tune learned from (win rates vs base)")
    trained_on = gr.Dataframe(wrap=True)
    gr.Markdown("### Across seeds (mean ± 95% t-interval half-width)")
    seeds = gr.Dataframe(wrap=True)
    gr.Markdown("### In-distribution prompts and held-out attribute combinations")
    splits = gr.Dataframe(wrap=True)

    outputs = [dataset, human, with_ties, without_ties, heat, automatic, vbench, trained_on]
    outputs += [seeds, reference, glance, splits]

    @friendly(lambda m: (gr.update(), table([{"error": m}]), *(gr.update() for _ in range(10))))
    @access.researchers_only
    def update(aspect_, name, split_, ref="base"):
        return view(store, aspect_, name, split_, ref)

    inputs = [aspect, dataset, split, reference]
    refresh.click(update, inputs, outputs, api_name="leaderboard")
    aspect.change(update, inputs, outputs, api_name=False)
    reference.change(update, inputs, outputs, api_name=False)
    return update, inputs, outputs

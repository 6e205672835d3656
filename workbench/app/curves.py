"""Training: curves per run from the stored diagnostics, several runs overlaid (DPO against
Reg-DPO is the point)."""

from __future__ import annotations

import gradio as gr

from training.run_record import trained_checkpoints
from workbench.app.access import Access
from workbench.app.common import friendly
from workbench.report.plots import curves_figure
from workbench.report.queries import training_metrics
from workbench.store import Store

METRICS = (
    "loss",
    "dgr",
    "r",
    "win_gap",
    "lose_gap",
    "implicit_acc",
    "acc_t0",
    "acc_t1",
    "acc_t2",
    "acc_t3",
    "sft",
    "dpo",
    "grad_norm",
    "lr",
)
DEFAULT_METRICS = ["loss", "dgr", "win_gap", "lose_gap", "implicit_acc"]


def build(store: Store, access: Access) -> tuple:
    with gr.Row():
        ckpts = gr.Dropdown(
            label="runs (checkpoints)", choices=[], multiselect=True, allow_custom_value=True
        )
        metrics = gr.CheckboxGroup(list(METRICS), value=DEFAULT_METRICS, label="metrics")
    refresh = gr.Button("refresh", variant="primary")
    plot = gr.Plot()

    @friendly(lambda m: (gr.update(), None))
    @access.researchers_only
    def update(chosen, wanted):
        names = trained_checkpoints(store)
        chosen = (
            [c for c in (chosen or []) if c in names]
            or [c for c in names if c in ("dpo", "regdpo")]
            or names[-2:]
        )
        rows = training_metrics(store, chosen, list(wanted or DEFAULT_METRICS))
        figure = curves_figure(rows, list(wanted or DEFAULT_METRICS)) if rows else None
        return gr.update(choices=names, value=chosen), figure

    refresh.click(update, [ckpts, metrics], [ckpts, plot], api_name="training")
    metrics.change(update, [ckpts, metrics], [ckpts, plot], api_name=False)
    return update, [ckpts, metrics], [ckpts, plot]

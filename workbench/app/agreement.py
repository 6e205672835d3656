"""Agreement: human votes against GT-Pair, against each automatic judge, and between
annotators."""

from __future__ import annotations

import gradio as gr

from workbench.app.access import Access
from workbench.app.common import friendly
from workbench.app.leaderboard import table
from workbench.human_ratings import annotator_agreement, gt_pair_agreement, judge_agreement
from workbench.store import Store


def build(store: Store, access: Access) -> tuple:
    refresh = gr.Button("refresh", variant="primary")
    gr.Markdown("### Humans and GT-Pair: do people prefer the real video over the rollout?")
    gt = gr.Dataframe(wrap=True)
    gr.Markdown("### Humans and the judges (accuracy with and without ties, Cohen's kappa)")
    judges = gr.Dataframe(wrap=True)
    gr.Markdown("### Annotators with each other (battles seen by two or more people)")
    people = gr.Dataframe(wrap=True)

    @friendly(lambda m: (table([{"error": m}]), gr.update(), gr.update()))
    @access.researchers_only
    def update():
        return (
            table(gt_pair_agreement(store)),
            table(judge_agreement(store)),
            table(annotator_agreement(store)),
        )

    refresh.click(update, [], [gt, judges, people], api_name="agreement")
    return update, [], [gt, judges, people]

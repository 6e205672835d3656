"""Vote: blind GSB battles between two sources (the paper's protocol), and the same interface
over two rollouts of one checkpoint for annotated pairs (the Annotate tab)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from workbench.app.access import Access
from workbench.app.common import controls, friendly, message, video_cell
from workbench.battles import (
    CHOICES,
    export_votes,
    record_votes,
    serve_battle,
    serve_rollouts,
)
from workbench.checkpoint_registry import list_checkpoints
from workbench.datasets import list_datasets
from workbench.pairsets.voted import PAIR_ASPECTS, pairs_from_votes
from workbench.sources import source_names
from workbench.store import Store


def battle_html(battle: dict, group: str) -> str:
    """The two sides, same size and player, named only A and B; `group` is the tab's own, so
    one tab's buttons never start another's videos."""
    cells = video_cell(battle["a"], "A", group) + video_cell(battle["b"], "B", group)
    return f"<p>{battle['prompt']}</p>{controls(group)}<div class='wb-row'>{cells}</div>"


def annotator_of(name: str, request: gr.Request | None) -> str:
    """The logged-in user under --auth, else the name typed in."""
    user = getattr(request, "username", None) if request is not None else None
    return user or (name or "").strip()


def choices_view(store: Store, rollouts: bool, current: str | None) -> tuple:
    """The dataset choices and what can be picked on it: a checkpoint to annotate the
    rollouts of, or the sources of a battle."""
    names = [d["name"] for d in list_datasets(store)]
    name_, value = _defaults(store, rollouts, current)
    if rollouts:
        options = [c["name"] for c in list_checkpoints(store) if c["method"] != "videos"]
    else:
        options = source_names(store, name_) if name_ else []
    return gr.update(choices=names, value=name_), gr.update(choices=options, value=value)


def build(store: Store, rollouts: bool, rng: np.random.Generator, access: Access) -> tuple:
    """Lay out a Vote (or, with `rollouts`, Annotate) tab and wire its events."""
    prefix = "annotate" if rollouts else "battle"
    with gr.Row():
        name = gr.Textbox(label="your name (signs your votes)", elem_classes="wb-name")
        dataset = gr.Dropdown(label="dataset", choices=[], allow_custom_value=True)
        split = gr.Radio(["test", "train"], value="test", label="split")
    pick = gr.Dropdown(
        label="checkpoint (two of its rollouts)"
        if rollouts
        else "sources (two: that pair; more: all pairs)",
        choices=[],
        multiselect=not rollouts,
        allow_custom_value=True,
    )
    serve = gr.Button("new pair" if rollouts else "new battle", variant="primary")
    status = gr.Markdown()
    shown = gr.HTML()
    battle_id = gr.Textbox(visible=False)
    with gr.Row():
        vq = gr.Radio(list(CHOICES), label="visual quality (VQ)")
        pf = gr.Radio(list(CHOICES), label="prompt following (PF)")
    submit = gr.Button("submit vote")
    reveal = gr.Markdown()
    served = gr.State([])
    if rollouts:
        with gr.Column(elem_classes="wb-researcher"):  # hidden from annotators (CSS)
            _pair_set_controls(store, access)

    @friendly(lambda m: (gr.update(), gr.update(), message(m), "", gr.update(), None, None))
    def next_battle(who, name_, split_, chosen, served_, request: gr.Request):
        battle = _serve(store, rollouts, rng, annotator_of(who, request), name_, split_, chosen)
        shown = battle_html(battle, prefix)
        ask = "Which is better? Names appear after the vote."
        return (shown, battle["id"], ask, "", [*served_, battle["id"]], None, None)

    @friendly(lambda m: (message(m), "", gr.update()))
    def vote(who, battle, vq_, pf_, served_, request: gr.Request):
        annotator = annotator_of(who, request)
        names = record_votes(store, battle, annotator, served_, {"vq": vq_, "pf": pf_})
        return ("Vote stored.", f"A was **{names['A']}**, B was **{names['B']}**.", served_)

    @friendly(lambda m: (gr.update(), gr.update()))
    def choices(current):
        return choices_view(store, rollouts, current)

    serve.click(
        next_battle,
        [name, dataset, split, pick, served],
        [shown, battle_id, status, reveal, served, vq, pf],
        api_name=f"next_{prefix}",
    )
    submit.click(
        vote, [name, battle_id, vq, pf, served], [status, reveal, served], api_name=f"vote_{prefix}"
    )
    dataset.change(lambda d: choices(d)[1], dataset, pick, api_name=False)
    return choices, [dataset], [dataset, pick], name


def _serve(store: Store, rollouts: bool, rng, annotator: str, name_, split_, chosen) -> dict:
    """A new battle for `annotator`: two rollouts of the chosen checkpoint, or two of the
    chosen sources."""
    if not name_:  # clicked before the page's load filled the choices
        name_, chosen = _defaults(store, rollouts, name_)
    if rollouts:
        return serve_rollouts(store, annotator, name_, split_, chosen, rng)
    return serve_battle(store, annotator, name_, split_, list(chosen or []), rng)


def _defaults(store: Store, rollouts: bool, current: str | None) -> tuple[str | None, Any]:
    """The dataset shown (`current` if it exists, else the first) and the preselected
    checkpoint (Annotate: the newest) or sources (Vote: the first two)."""
    names = [d["name"] for d in list_datasets(store)]
    name_ = current if current in names else (names[0] if names else None)
    if rollouts:
        options = [c["name"] for c in list_checkpoints(store) if c["method"] != "videos"]
        return name_, options[-1] if options else None
    return name_, (source_names(store, name_)[:2] if name_ else [])


def _pair_set_controls(store: Store, access: Access) -> None:
    """Votes out: a pair set for `workbench train --pairs`, or the CSV of all votes."""
    gr.Markdown(
        "### From votes to a training pair set\n"
        "Only the votes on this tab's rollout pairs count; Vote-tab battles never do."
    )
    with gr.Row():
        pairset = gr.Textbox(label="pair set name", value="annotated")
        aspect = gr.Radio(list(PAIR_ASPECTS), value="both", label="answers that count")
        min_agree = gr.Number(label="annotators the winner needs", value=1, precision=0, minimum=1)
        build_pairs = gr.Button("build pair set")
        export = gr.Button("export votes (CSV)")
    done = gr.Markdown()
    csv_file = gr.File(label="votes.csv")

    @friendly(message)
    @access.researchers_only
    def make_pairs(name, agree, aspect_):
        summary = pairs_from_votes(store, (name or "").strip(), int(agree or 1), aspect_)
        return (
            f"Pair set **{summary['pairset']}**: {summary['pairs']} pairs; train on it with "
            f"`workbench train --method regdpo --pairs {summary['pairset']} ...`"
        )

    @friendly(lambda m: None)
    @access.researchers_only
    def write_csv():
        # Outside the served media folder: Gradio hands it out under an unguessable name.
        path = Path(tempfile.mkdtemp(prefix="workbench-votes-")) / "votes.csv"
        export_votes(store, path)
        return str(path)

    build_pairs.click(make_pairs, [pairset, min_agree, aspect], done, api_name="build_pairs")
    export.click(write_csv, [], csv_file, api_name="export_votes")

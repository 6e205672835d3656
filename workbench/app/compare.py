"""Compare: the ground truth (and the first frame) beside every chosen source's video for one
prompt, in step, with each video's judge scores; or a grid of many prompts."""

from __future__ import annotations

import re
from typing import Any

import gradio as gr

from workbench.app.access import Access
from workbench.app.common import controls, friendly, image_cell, message, video_cell
from workbench.datasets import list_datasets, load_samples
from workbench.ratings import mean_interval
from workbench.report.queries import checkpoint_scores, newest_scores
from workbench.report.tables import ASPECT_JUDGES, aspect_key, mean_score, seed_groups
from workbench.sources import source_names, source_videos
from workbench.store import Store

DEFAULT_SOURCES = ("gt", "base", "sft", "dpo", "regdpo")
SHOWN_SCORES = (
    ("shapes-pf", "overall", "PF"),
    ("shapes-vq", "overall", "VQ"),
    ("technical", "overall", "tech"),
    ("clip-pf", "clip_score", "CLIP"),
)
ATTRIBUTES = ("shape", "color", "motion", "background")
GRID_ROWS = 12


def matching_samples(
    store: Store, dataset: str, split: str, text: str, wanted: dict[str, str]
) -> list[dict[str, Any]]:
    """Samples whose prompt has every word of `text` (as a word or a word's start, in any
    order: "blue rise" finds "a blue box rises") and whose world attributes match `wanted`
    ({attribute: value}, 'any' ignored)."""
    words = [re.compile(rf"\b{re.escape(w)}", re.IGNORECASE) for w in (text or "").split()]
    out = []
    for s in load_samples(store, dataset, split):
        if not all(w.search(s["prompt"]) for w in words):
            continue
        attrs = s["attributes"] or {}
        objects = attrs.get("objects", [{}])
        have = {k: {o.get(k) for o in objects} for k in ("shape", "color", "motion")}
        have["background"] = attrs.get("background")
        if all(v == "any" or v == have[k] or v in (have[k] or ()) for k, v in wanted.items()):
            out.append(s)
    return out


def compare_html(store: Store, dataset: str, split: str, sample_id: str, sources: list[str]) -> str:
    """One prompt: first frame, then each source's video with its scores, all in step."""
    sample = next((s for s in load_samples(store, dataset, split) if s["id"] == sample_id), None)
    if sample is None:
        return message("pick a prompt")
    videos = {src: source_videos(store, dataset, split, src).get(sample_id) for src in sources}
    scores = newest_scores(store, [v for v in videos.values() if v])
    paths = store.video_paths([v for v in videos.values() if v])
    cells = [image_cell(store.path(sample["first_frame"]), "first frame")]
    for src, video in videos.items():
        if video is None:
            cells.append(
                f"<div class='wb-cell'><b>{src}</b><br>(no video of this prompt yet)</div>"
            )
            continue
        lines = [
            f"{label} {scores.get(video, {})[(j, d)]:.3f}"
            for j, d, label in SHOWN_SCORES
            if (j, d) in scores.get(video, {})
        ]
        cells.append(video_cell(paths[video], src, "compare", lines))
    return (
        f"<p>{sample['prompt']}</p>{controls('compare')}"
        f"<div class='wb-row'>{''.join(cells)}</div>"
        f"{summary_html(store, dataset, split, sources)}"
    )


def summary_rows(store: Store, dataset: str, split: str, sources: list[str]) -> list[dict]:
    """Per chosen source, what one prompt cannot say: its judges' means over the split's
    prompts with a 95% t-interval over prompts, and for a fine-tune trained with several
    seeds, the mean over the seeds with the interval over seeds (and how many)."""
    groups = seed_groups(source_names(store, dataset))
    member_of = {name: (method, names) for method, names in groups.items() for name in names}
    scores: dict[str, dict] = {}

    def scored(name: str) -> dict:
        if name not in scores:
            scores[name] = checkpoint_scores(store, dataset, split, name)
        return scores[name]

    rows = []
    for src in sources:
        per = scored(src)
        row: dict[str, Any] = {"source": src, "prompts": len(per)}
        for aspect in ASPECT_JUDGES:
            key = aspect_key(per, aspect)
            mean, half = mean_interval([v[key] for v in per.values() if key in v])
            row[aspect] = f"{mean:.3f} ± {half:.3f}" if half == half else "-"
        if src in member_of:
            method, names = member_of[src]
            row["seeds"] = f"{len(names)} seeds of {method}"
            for aspect in ASPECT_JUDGES:
                key = aspect_key(per, aspect)
                mean, half = mean_interval([mean_score(scored(n), key) for n in names])
                row[f"{aspect} over seeds"] = f"{mean:.3f} ± {half:.3f}"
        rows.append(row)
    return rows


def summary_html(store: Store, dataset: str, split: str, sources: list[str]) -> str:
    rows = summary_rows(store, dataset, split, sources)
    cols = list(dict.fromkeys(c for r in rows for c in r))
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{r.get(c, '')}</td>" for c in cols) + "</tr>" for r in rows
    )
    return (
        f"<p>Over the split (mean ± 95% interval):</p>"
        f"<table class='wb-summary'><tr>{head}</tr>{body}</table>"
    )


def grid_html(
    store: Store, dataset: str, split: str, samples: list[dict], sources: list[str]
) -> str:
    """Many prompts, one row each, every row in step with itself."""
    videos = {src: source_videos(store, dataset, split, src) for src in sources}
    ids = [videos[src].get(s["id"]) for s in samples[:GRID_ROWS] for src in sources]
    paths = store.video_paths([v for v in ids if v])
    rows = []
    for sample in samples[:GRID_ROWS]:  # one group: play all drives every row, in step
        cells = [
            video_cell(paths[videos[src][sample["id"]]], src, "grid")
            for src in sources
            if sample["id"] in videos[src]
        ]
        rows.append(f"<div>{sample['prompt']}</div><div class='wb-row'>{''.join(cells)}</div>")
    return f"{controls('grid')}<div class='wb-grid'>{''.join(rows)}</div>"


def with_videos(
    store: Store, dataset: str, split: str, samples: list[dict], sources: list[str]
) -> list[dict]:
    """The samples every chosen source has a video of."""
    have = [set(source_videos(store, dataset, split, src)) for src in sources]
    return [s for s in samples if all(s["id"] in h for h in have)]


def choices_view(store: Store, current: str | None, chosen: list[str] | None) -> tuple:
    """The dataset, source and attribute choices (`build`'s choice outputs), keeping what is
    chosen where it still exists."""
    names = [d["name"] for d in list_datasets(store)]
    if not names:
        return (
            gr.update(choices=[]),
            gr.update(choices=[]),
            *(gr.update() for _ in ATTRIBUTES),
            "",
        )
    name = current if current in names else names[0]
    known = source_names(store, name)
    picked = [s for s in (chosen or DEFAULT_SOURCES) if s in known] or known[:5]
    values = _attribute_values(store, name)
    return (
        gr.update(choices=names, value=name),
        gr.update(choices=known, value=picked),
        *(gr.update(choices=["any", *values[a]]) for a in ATTRIBUTES),
        "",
    )


def prompts_view(
    store: Store, name: str | None, split_: str, text_: str, view_: str, srcs, wanted
) -> tuple:
    """The prompts matching the filters that have videos of every chosen source, and the
    first one's videos side by side (or, as a grid, all of them)."""
    if not name:
        return gr.update(choices=[]), ""
    matched = matching_samples(
        store, name, split_, text_, dict(zip(ATTRIBUTES, wanted, strict=True))
    )
    found = with_videos(store, name, split_, matched, list(srcs or []))
    count = (
        f"<p>{len(found)} of {len(matched)} matching prompts have videos of every chosen source</p>"
    )
    choices = [(s["prompt"], s["id"]) for s in found]
    if view_ == "grid":
        return gr.update(choices=choices), count + grid_html(store, name, split_, found, srcs)
    first = choices[0][1] if choices else None
    body = compare_html(store, name, split_, first, srcs) if first else message("no match")
    return gr.update(choices=choices, value=first), count + body


def build(store: Store, access: Access) -> tuple:
    """Lay out the Compare tab and wire its events."""
    with gr.Row():
        dataset = gr.Dropdown(label="dataset", choices=[], allow_custom_value=True)
        split = gr.Radio(["test", "train"], value="test", label="split")
        text = gr.Textbox(label="prompt contains")
        view = gr.Radio(["side by side", "grid"], value="side by side", label="view")
    with gr.Row():
        filters = [
            gr.Dropdown(["any"], value="any", label=a, allow_custom_value=True) for a in ATTRIBUTES
        ]
    sources = gr.Dropdown(label="sources", choices=[], multiselect=True, allow_custom_value=True)
    prompt = gr.Dropdown(label="prompt", choices=[], allow_custom_value=True)
    refresh = gr.Button("refresh")
    out = gr.HTML()

    @friendly(lambda m: (gr.update(), gr.update(), *(gr.update() for _ in ATTRIBUTES), message(m)))
    @access.researchers_only
    def load_choices(current: str | None, chosen: list[str]):
        return choices_view(store, current, chosen)

    @friendly(lambda m: (gr.update(), message(m)))
    @access.researchers_only
    def list_prompts(name, split_, text_, view_, srcs, *wanted):
        return prompts_view(store, name, split_, text_, view_, srcs, wanted)

    @friendly(message)
    @access.researchers_only
    def show(name, split_, sample_id, srcs, view_):
        if view_ == "grid" or not sample_id:
            return gr.update()
        return compare_html(store, name, split_, sample_id, srcs)

    choice_outputs = [dataset, sources, *filters, out]
    refresh.click(load_choices, [dataset, sources], choice_outputs, api_name="compare_refresh")
    listing = [dataset, split, text, view, sources, *filters]
    for trigger in (
        dataset.change,
        split.change,
        text.input,
        view.change,
        sources.change,
        *(f.change for f in filters),
    ):
        trigger(list_prompts, listing, [prompt, out], api_name=False)
    prompt.change(show, [dataset, split, prompt, sources, view], out, api_name="compare_show")
    gr.on([refresh.click], list_prompts, listing, [prompt, out], api_name=False)
    return load_choices, [dataset, sources], choice_outputs


def _attribute_values(store: Store, dataset: str) -> dict[str, list[str]]:
    values: dict[str, set] = {a: set() for a in ATTRIBUTES}
    for s in load_samples(store, dataset):
        attrs = s["attributes"] or {}
        if "background" in attrs:
            values["background"].add(attrs["background"])
        for obj in attrs.get("objects", []):
            for a in ("shape", "color", "motion"):
                values[a].add(obj[a])
    return {a: sorted(v) for a, v in values.items()}

"""The app: one module per tab over plain service functions (workbench.battles,
workbench.human_ratings, workbench.report). It reads and writes only through the store, so it
runs while `workbench eval` and training runs write to the same home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.context import LocalContext

from workbench.app import agreement, compare, curves, leaderboard, vote
from workbench.app.access import Access, slowed_login
from workbench.app.common import CSS, ROLE_JS, SYNC_JS, empty_home_hint
from workbench.experiments import study_progress, study_to_start
from workbench.store import Store

TITLE = "Reg-DPO Workbench"


def build_app(store: Store, seed: int | None = None, access: Access | None = None) -> gr.Blocks:
    """The Blocks app over a store; `seed` fixes battle draws (tests)."""
    rng = np.random.default_rng(seed)
    access = access or Access()
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}")
        hint = gr.Markdown(empty_home_hint(store) or "")
        progress = gr.Markdown(study_progress(store))
        gr.Timer(3.0).tick(
            lambda: (empty_home_hint(store) or "", study_progress(store)),
            [],
            [hint, progress],
            api_name="progress",
        )
        loaders = []
        with gr.Tabs() as tabs:
            with gr.Tab("Compare", id="compare-tab", elem_id="compare-tab") as tab:
                loaders.append((tab, compare.build(store, access)))
            with gr.Tab("Vote", id="vote-tab", elem_id="vote-tab") as tab:
                loaders.append((tab, vote.build(store, False, rng, access)[:3]))
            with gr.Tab("Annotate", id="annotate-tab", elem_id="annotate-tab") as tab:
                loaders.append((tab, vote.build(store, True, rng, access)[:3]))
            with gr.Tab("Leaderboard", id="leaderboard-tab", elem_id="leaderboard-tab") as tab:
                loaders.append((tab, leaderboard.build(store, access)))
            with gr.Tab("Training", id="training-tab", elem_id="training-tab") as tab:
                loaders.append((tab, curves.build(store, access)))
            with gr.Tab("Agreement", id="agreement-tab", elem_id="agreement-tab") as tab:
                loaders.append((tab, agreement.build(store, access)))
        # New datasets, videos, scores and votes appear whenever a tab is opened; the page
        # opens on Compare (an annotator's on Vote, the other tabs hidden), which load with it.
        for tab, (update, inputs, outputs) in loaders:
            tab.select(update, inputs, outputs, api_name=False)
        role = gr.Textbox(visible=False)

        def open_page():
            """The caller's role, and the tab their page opens on."""
            request = LocalContext.request.get(None)
            name = (
                "annotator"
                if access.is_annotator(request)
                else ("researcher" if getattr(request, "username", None) else "")
            )
            return name, gr.update(selected="vote-tab") if name == "annotator" else gr.update()

        # The role marks the page (see CSS): annotators' pages hide the other tabs' buttons,
        # logged-in pages the name box. The handlers refuse annotators whatever the page shows.
        app.load(open_page, [], [role, tabs], api_name=False).then(
            None, [role], None, js=ROLE_JS, api_name=False
        )
        for _, (update, inputs, outputs) in loaders[:2]:  # Compare refuses annotators
            app.load(update, inputs, outputs, api_name=False)
    return app


def start_study(store: Store, preset: str, seeds: int = 1) -> subprocess.Popen | None:
    """Run the paper's study in the background (`workbench experiment run`, logged to
    <home>/logs/study.log) when `study_to_start` says so: on an empty home, or to continue
    one a previous launch left unfinished or with fewer seeds."""
    preset = study_to_start(store, preset, seeds)
    if preset is None:
        return None
    log = store.home / "logs" / "study.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [
        *(sys.executable, "-m", "workbench", "--home", str(store.home)),
        *("experiment", "run", "paper", "--preset", preset, "--seeds", str(seeds)),
    ]
    with open(log, "a") as out:  # the child keeps its own handle
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def launch(
    home: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth: list[tuple[str, str]] | None = None,
    share: bool = False,
    block: bool = True,
    seed: int | None = None,
    study: str = "none",
    access: Access | None = None,
    seeds: int = 1,
) -> gr.Blocks:
    """Serve the app; only the home's media folder is served as files. `study` (a preset of
    the paper's study, or 'none') starts on an empty home, in the background, and goes on
    to `seeds` seeds."""
    store = Store(home)
    start_study(store, study, seeds)
    app = build_app(store, seed, access)
    app.launch(
        server_name=host,
        server_port=port,
        auth=slowed_login(auth) if auth else None,
        share=share,
        allowed_paths=[str(store.media_dir.resolve())],
        prevent_thread_lock=not block,
        css=CSS,
        head=SYNC_JS,
        show_error=False,
        quiet=not block,
    )
    return app

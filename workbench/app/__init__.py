"""The app: one module per tab over plain service functions (workbench.battles,
workbench.leaderboard, workbench.report). It reads and writes only through the store, so it
runs while `workbench eval` and training runs write to the same home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np

from workbench.app import agreement, compare, leaderboard, training, vote
from workbench.app.common import CSS, SYNC_JS, empty_home_hint
from workbench.experiments import stage_status, study_progress, study_running
from workbench.store import Store

TITLE = "Reg-DPO Workbench"


def build_app(store: Store, seed: int | None = None) -> gr.Blocks:
    """The Blocks app over a store; `seed` fixes battle draws (tests)."""
    rng = np.random.default_rng(seed)
    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}")
        hint = gr.Markdown(empty_home_hint(store) or "")
        progress = gr.Markdown(study_progress(store))
        gr.Timer(3.0).tick(lambda: (empty_home_hint(store) or "", study_progress(store)), [],
                           [hint, progress], api_name="progress")  # fmt: skip
        loaders = []
        with gr.Tab("Compare", elem_id="compare-tab") as tab:
            loaders.append((tab, compare.build(store)))
        with gr.Tab("Vote", elem_id="vote-tab") as tab:
            loaders.append((tab, vote.build(store, rollouts=False, rng=rng)[:3]))
        with gr.Tab("Annotate", elem_id="annotate-tab") as tab:
            loaders.append((tab, vote.build(store, rollouts=True, rng=rng)[:3]))
        with gr.Tab("Leaderboard", elem_id="leaderboard-tab") as tab:
            loaders.append((tab, leaderboard.build(store)))
        with gr.Tab("Training", elem_id="training-tab") as tab:
            loaders.append((tab, training.build(store)))
        with gr.Tab("Agreement", elem_id="agreement-tab") as tab:
            loaders.append((tab, agreement.build(store)))
        # New datasets, videos, scores and votes appear whenever a tab is opened; the page
        # opens on Compare, so only Compare loads with it.
        for tab, (update, inputs, outputs) in loaders:
            tab.select(update, inputs, outputs, api_name=False)
        update, inputs, outputs = loaders[0][1]
        app.load(update, inputs, outputs, api_name=False)
    return app


def start_study(store: Store, preset: str) -> subprocess.Popen | None:
    """Run the paper's study in the background (`workbench experiment run`, logged to
    <home>/logs/study.log) on an empty home, or continue one a previous launch left
    unfinished; nothing when one is running, it is done, or the home was filled otherwise."""
    if preset == "none" or study_running(store):
        return None
    stages = stage_status(store, "paper")
    if store.query("SELECT 1 FROM datasets LIMIT 1") and (
        not stages or all(r["status"] == "done" for r in stages)
    ):
        return None
    log = store.home / "logs" / "study.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "workbench", "--home", str(store.home), "experiment", "run",
               "paper", "--preset", preset]  # fmt: skip
    with open(log, "a") as out:  # the child keeps its own handle
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def launch(
    home: Path, host: str = "127.0.0.1", port: int | None = None,
    auth: list[tuple[str, str]] | None = None, share: bool = False, block: bool = True,
    seed: int | None = None, study: str = "none",
) -> gr.Blocks:  # fmt: skip
    """Serve the app; only the home's media folder is served as files. `study` (a preset of
    the paper's study, or 'none') starts on an empty home, in the background."""
    store = Store(home)
    start_study(store, study)
    app = build_app(store, seed)
    app.launch(server_name=host, server_port=port, auth=auth, share=share,
               allowed_paths=[str(store.media_dir.resolve())], prevent_thread_lock=not block,
               css=CSS, head=SYNC_JS, show_error=False, quiet=not block)  # fmt: skip
    return app


def read_auth(path: Path) -> list[tuple[str, str]]:
    """`user:password` per line (blank lines and # comments skipped)."""
    pairs = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            user, sep, password = line.partition(":")
            if not sep or not user or not password:
                raise ValueError(f"{path}: lines must be user:password, got {line!r}")
            pairs.append((user, password))
    return pairs

"""What every tab shares: how a video is shown, the script that keeps videos in step, and
the wrapper that turns errors into one clear line instead of a stack trace."""

from __future__ import annotations

import functools
import html
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from workbench.datasets import list_datasets
from workbench.errors import WorkbenchError
from workbench.experiments import study_recorded
from workbench.store import Store

# Small videos are enlarged without blurring (the world's 32x32 clips would be mush).
CSS = """
video.wb-video, img.wb-video { image-rendering: pixelated; width: 160px; height: 160px;
  object-fit: contain; background: #111; }
.wb-grid video.wb-video { width: 96px; height: 96px; }
.wb-cell { display: inline-block; vertical-align: top; margin: 4px; text-align: center;
  font-size: 12px; }
.wb-cell .wb-label { font-weight: bold; font-size: 14px; }
.wb-scores { font-family: monospace; }
.wb-row { display: flex; flex-wrap: wrap; align-items: flex-start; }
.wb-annotator :is(#compare-tab-button, #leaderboard-tab-button, #training-tab-button,
  #agreement-tab-button, .wb-researcher) { display: none !important; }
.wb-logged-in .wb-name { display: none !important; }
"""

# Marks the page with its caller's role (the load event's answer) for the rules above.
ROLE_JS = """(role) => {
  if (role) document.body.classList.add('wb-logged-in');
  if (role === 'annotator') document.body.classList.add('wb-annotator');
}"""

# One script in the page head: Gradio has no synchronised players, so every <video> with
# class wb-sync in the same data-group follows play, pause and seek of any of them, and the
# group's buttons / slider drive them all. Delegated listeners survive the HTML being
# replaced when the user picks another prompt.
SYNC_JS = """
<script>
(() => {
  let busy = false;
  const peers = (v) => document.querySelectorAll(
    `video.wb-sync[data-group="${v.dataset.group}"]`);
  const follow = (kind) => (event) => {
    const v = event.target;
    if (busy || !(v instanceof HTMLVideoElement) || !v.classList.contains('wb-sync')) return;
    busy = true;
    for (const p of peers(v)) {
      if (p === v) continue;
      if (kind === 'seek') p.currentTime = v.currentTime;
      if (kind === 'play') { p.currentTime = v.currentTime; p.play(); }
      if (kind === 'pause') p.pause();
    }
    busy = false;
  };
  document.addEventListener('play', follow('play'), true);
  document.addEventListener('pause', follow('pause'), true);
  document.addEventListener('seeked', follow('seek'), true);
  document.addEventListener('timeupdate', (event) => {
    const v = event.target;
    if (!(v instanceof HTMLVideoElement) || !v.classList.contains('wb-sync')) return;
    const slider = document.querySelector(`input.wb-seek[data-group="${v.dataset.group}"]`);
    if (slider && v.duration) slider.value = String(v.currentTime / v.duration);
  }, true);
  const all = (group) => document.querySelectorAll(`video.wb-sync[data-group="${group}"]`);
  document.addEventListener('click', (event) => {
    const b = event.target.closest('[data-wb-action]');
    if (!b) return;
    busy = true;
    for (const v of all(b.dataset.group)) {
      if (b.dataset.wbAction === 'play') { v.currentTime = 0; v.play(); }
      if (b.dataset.wbAction === 'pause') v.pause();
      if (b.dataset.wbAction === 'loop') v.loop = !v.loop;
    }
    busy = false;
  });
  document.addEventListener('input', (event) => {
    const s = event.target;
    if (!s.classList || !s.classList.contains('wb-seek')) return;
    busy = true;
    for (const v of all(s.dataset.group)) if (v.duration) v.currentTime = s.value * v.duration;
    busy = false;
  });
})();
</script>
"""


def file_url(path: Path) -> str:
    """The URL Gradio serves a file under the home's media folder at."""
    return f"/gradio_api/file={quote(str(Path(path).resolve()))}"


def video_cell(path: Path, label: str, group: str, lines: list[str] = ()) -> str:
    """One labelled, looping, muted video that plays in step with its group."""
    extra = "".join(f"<div class='wb-scores'>{html.escape(x)}</div>" for x in lines)
    return (
        f"<div class='wb-cell'><div class='wb-label'>{html.escape(label)}</div>"
        f"<video class='wb-video wb-sync' data-group='{group}' src='{file_url(path)}' "
        f"loop muted playsinline preload='auto'></video>{extra}</div>"
    )


def image_cell(path: Path, label: str) -> str:
    return (
        f"<div class='wb-cell'><div class='wb-label'>{html.escape(label)}</div>"
        f"<img class='wb-video' src='{file_url(path)}'></div>"
    )


def controls(group: str) -> str:
    """Play / pause / loop buttons and a seek slider for a group of videos."""
    buttons = "".join(
        f"<button class='lg secondary' data-wb-action='{a}' data-group='{group}'>{t}</button> "
        for a, t in (("play", "play all"), ("pause", "pause all"), ("loop", "loop on / off"))
    )
    return (
        f"<div>{buttons}<input class='wb-seek' data-group='{group}' type='range' min='0' "
        f"max='1' step='0.01' value='0' style='width: 240px'></div>"
    )


def message(text: str) -> str:
    return f"**{html.escape(text)}**"


def friendly(fallback: Callable[[str], Any]) -> Callable:
    """Decorate a handler: a WorkbenchError becomes its message, anything else one line
    naming the error (the trace goes to the server's log, never to the browser).
    `fallback(message)` builds the handler's outputs for that message."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except WorkbenchError as exc:
                return fallback(str(exc))
            except Exception as exc:  # the browser gets one line, the log the details
                traceback.print_exc(file=sys.stderr)
                return fallback(f"internal error ({type(exc).__name__}): {exc}")

        return run

    return wrap


def empty_home_hint(store: Store) -> str | None:
    """What to run when the home has nothing to show yet."""
    if list_datasets(store):
        return None
    if study_recorded(store):
        return "The paper's study is filling this home; the tabs fill as its stages land."
    return (
        f"The home {store.home} has no data yet. Fill it with, for example: "
        "`workbench world make --n 256`, `workbench train --name base ...`, "
        "`workbench eval --ckpt gt --ckpt base` (or `make demo`); the tabs pick new data up "
        "when you refresh them."
    )

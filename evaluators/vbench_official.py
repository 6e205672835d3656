"""The official VBench (`vbench` 0.1.5 on PyPI) in an environment of its own, run for you.

It pins numpy < 2, transformers 4.33.2 and timm <= 1.0.12, so it cannot share the
workbench's environment. `setup_env` makes a venv with those pins and, through a `.pth` file
placed after its own packages, borrows what it does not pin from the workbench's environment
(torch and torchvision above all: no second multi-GB download), and records what it
installed. `run_official` exports a source's videos as `<video id>.mp4` in VBench's
custom-input layout, runs VBench's own `VBench.evaluate` there in a process of its own
(vbench/__init__.py, mode custom_input; its tqdm shows), and returns its results file, which
`ingest_official_results` stores as the report's preferred source for each dimension.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import venv
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.sources import source_videos
from workbench.store import Store

PINS = ("vbench==0.1.5", "numpy<2", "transformers==4.33.2", "timm>=0.9,<=1.0.12")
RECORD = "workbench-vbench.json"
DRIVER = """
import sys, torch, vbench
from pathlib import Path
from vbench import VBench
videos, out, dims = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
info = str(Path(vbench.__file__).parent / "VBench_full_info.json")
VBench(torch.device("cpu"), info, out).evaluate(
    videos_path=videos, name="workbench", dimension_list=dims, mode="custom_input"
)
"""


def setup_env(env: Path, progress: bool = True) -> dict:
    """Make (or complete) the venv at `env` with VBench's pins; what it holds.

    Raises:
        WorkbenchError: pip could not install the pins (its last line says why).
    """
    env = env.resolve()
    if not (env / "bin" / "python").is_file():
        venv.EnvBuilder(with_pip=True).create(env)
    borrowed = str(Path(sysconfig.get_paths()["purelib"]).resolve())
    site = _site_packages(env)
    (site / "zz-workbench-env.pth").write_text(borrowed + "\n")  # read after its own packages
    done = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-m",
            "pip",
            "install",
            *(() if progress else ("-q",)),
            *PINS,
        ],
        capture_output=not progress,
        text=True,
    )
    if done.returncode != 0:
        last = (done.stderr or "").strip().splitlines()[-1:] or ["see pip's output above"]
        raise WorkbenchError(f"the official vbench could not be installed in {env}: {last[0]}")
    record = {
        "env": str(env),
        "python": sys.version.split()[0],
        "pins": list(PINS),
        "borrowed_from": borrowed,
        "installed": _versions(env, ("vbench", "numpy", "transformers", "timm", "torch")),
    }
    (env / RECORD).write_text(json.dumps(record, indent=1))
    return record


def run_official(
    store: Store, env: Path, ckpt: str, dataset: str, split: str, dimensions: list[str]
) -> Path:
    """The official evaluator on `ckpt`'s videos of a split; the path of its results file
    (under the home's vbench-official/ folder).

    Raises:
        WorkbenchError: no environment at `env` (run `workbench vbench setup`), no videos of
            `ckpt` on the split, or the evaluator failed (its last line says why).
    """
    python = env / "bin" / "python"
    if not (env / RECORD).is_file():
        raise WorkbenchError(f"no VBench environment at {env}: run `workbench vbench setup`")
    videos = store.video_paths(list(source_videos(store, dataset, split, ckpt).values()))
    if not videos:
        raise WorkbenchError(f"{ckpt!r} has no videos of {dataset} / {split}: run eval first")
    out = store.home / "vbench-official" / ckpt
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for video_id, path in videos.items():
            os.symlink(path, Path(folder) / f"{video_id}.mp4")
        done = subprocess.run(
            [str(python), "-c", DRIVER, folder, str(out), ",".join(dimensions)],
            cwd=out,
            stderr=subprocess.PIPE,
            text=True,
        )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no message"]
        raise WorkbenchError(f"the official VBench failed: {last[0]}")
    return out / "workbench_eval_results.json"


def _site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python3*/site-packages"))


def _versions(env: Path, names: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [str(env / "bin" / "python"), "-c", code, *names], capture_output=True, text=True
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}

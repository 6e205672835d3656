"""SIGKILL at random points of every job that writes: LoRA SFT, DPO and Reg-DPO with each
reference (during a step and during a checkpoint write), GT-Pair building, generation and
evaluation. After each kill the store opens, every row points at complete files, and the
rerun (`--resume` for training) ends exactly where a straight run ends. (Studies and votes:
tests/test_experiment.py and tests/test_app.py.)

Killed runs are subprocesses; straight runs and reruns run in this process. All use one
thread, so that they compute with the same kernels and can be compared bit for bit.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from workbench import media
from workbench.cli import main
from workbench.store import Store

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
WORKBENCH = [sys.executable, "-m", "workbench"]
# Blocks a run's first checkpoint write after its files are written, before the renames, and
# says so: the test kills the process right there.
BLOCKING_WRITE = """
import sys, time
import training.resume_state as ck
from workbench.cli import main
save, calls = ck.save_model, []
def slow_save(*args, **kwargs):
    save(*args, **kwargs)
    calls.append(1)
    if len(calls) == 1:
        print("WRITING", flush=True)
        time.sleep(600)
ck.save_model = slow_save
sys.exit(main(sys.argv[1:]))
"""


def _run(home: Path, *args: str) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["--home", str(home), *args]) == 0, args
    finally:
        torch.set_num_threads(threads)


def _kill_after(home: Path, delay: float, *args: str) -> None:
    proc = subprocess.Popen(
        [*WORKBENCH, "--home", str(home), *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.kill()
    proc.wait()


def _consistent(store: Store) -> None:
    """Every video row's file is complete, and every row points at existing videos."""
    videos = {r["id"]: r["path"] for r in store.query("SELECT id, path FROM videos")}
    for path in videos.values():
        media.read_video(store.path(path))  # raises on a missing or half-written file
    referenced = store.query(
        """SELECT video_id AS v FROM generations UNION SELECT video_id FROM scores
           UNION SELECT winner_video FROM pairs UNION SELECT loser_video FROM pairs"""
    )
    assert {r["v"] for r in referenced} <= set(videos), "a row points at a missing video"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    home = tmp_path_factory.mktemp("kill") / "home"
    _run(home, "world", "make", "--n", "24")
    _run(home, "train", "--name", "base", "--steps", "2", "--batch-size", "2", "--task", "i2v")
    _run(home, "gtpair", "build", "--generators", "base", "--steps", "2", "--name", "pairs")
    return home


def _copy(prepared: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(prepared, home)
    return home


JOBS = {
    "gtpair": (
        [
            "gtpair",
            "build",
            "--generators",
            "base",
            "--per-sample",
            "3",
            "--steps",
            "4",
            "--name",
            "more",
        ],
        "SELECT sample_id, winner_video, loser_video FROM pairs WHERE pairset = 'more'",
    ),
    "generate": (
        ["generate", "--ckpt", "base", "--n", "16", "--steps", "6", "--batch-size", "2"],
        "SELECT key, video_id FROM generations WHERE checkpoint = 'base'",
    ),
    "eval": (
        [
            "eval",
            "--ckpt",
            "gt",
            "--ckpt",
            "base",
            "--judges",
            "shapes-pf,technical",
            "--steps",
            "6",
        ],
        "SELECT video_id, judge, dimension, value FROM scores",
    ),
}


@pytest.mark.parametrize("job", JOBS)
def test_a_killed_job_leaves_a_consistent_store_and_reruns_to_the_same_result(
    job, prepared, tmp_path
):
    args, result_sql = JOBS[job]
    straight = _copy(prepared, tmp_path / "straight")
    _run(straight, *args)
    expected = sorted(map(repr, Store(straight).query(result_sql)))
    killed = _copy(prepared, tmp_path / "killed")
    rng = random.Random(job)
    for _ in range(2):  # two kills at random moments, each checked, then a finishing rerun
        _kill_after(killed, rng.uniform(3.0, 8.0), *args)
        _consistent(Store(killed))
    _run(killed, *args)
    _consistent(Store(killed))
    assert sorted(map(repr, Store(killed).query(result_sql))) == expected


TRAIN = [
    "train",
    "--init",
    "base",
    "--steps",
    "16",
    "--batch-size",
    "2",
    "--checkpoint-every",
    "2",
    "--lr",
    "1e-3",
]
# Every reference once (with Reg-DPO; DPO is the same path with r = 0, once).
RUNS = {
    "sft": ["--method", "sft", "--pairs", "pairs"],
    "dpo-lora": ["--method", "dpo", "--pairs", "pairs", "--reference", "lora"],
    **{
        f"regdpo-{ref}": ["--method", "regdpo", "--pairs", "pairs", "--reference", ref]
        for ref in ("lora", "copy", "cached")
    },
}


def _lora(home: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(home / "checkpoints" / name / "pytorch_lora_weights.safetensors")


@pytest.mark.parametrize("run", RUNS)
def test_a_killed_training_run_resumes_to_the_straight_runs_weights(run, prepared, tmp_path):
    home = _copy(prepared, tmp_path)
    args = [*TRAIN, *RUNS[run]]
    _run(home, *args, "--name", "straight")
    state = home / "checkpoints" / "killed" / "training_state.pt"
    command = [*WORKBENCH, "--home", str(home), *args, "--name", "killed"]
    proc = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(run).uniform(0.0, 0.3))  # somewhere in a later step
    proc.kill()
    proc.wait()
    # Resumed, and killed again in the middle of a checkpoint write.
    command = [
        sys.executable,
        "-c",
        BLOCKING_WRITE,
        "--home",
        str(home),
        *args,
        "--name",
        "killed",
        "--resume",
    ]
    writer = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "WRITING"
    writer.kill()
    writer.wait()
    _consistent(Store(home))
    _run(home, *args, "--name", "killed", "--resume")
    straight, resumed = _lora(home, "straight"), _lora(home, "killed")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not list((home / "checkpoints").glob(".killed.*.tmp")), "no scratch left behind"

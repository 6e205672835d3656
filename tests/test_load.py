"""The app under load: eight annotators voting through gradio_client for a minute while
`workbench eval` scores and a training run logs metrics into the same home. Every
acknowledged vote, every score and every metric row must be in the store, and nobody may see
a lock error. Prints votes per second and the slowest vote's latency (the note quotes them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from helpers import start_app

from workbench.cli import main
from workbench.store import Store

ANNOTATORS = 8
SECONDS = 60
TRAIN_STEPS = 120


def test_eight_annotators_eval_and_training_share_one_home(tmp_path, monkeypatch):
    from gradio_client import Client

    home = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    assert main(["world", "make", "--n", "48"]) == 0
    assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
    assert (
        main(["eval", "--ckpt", "gt", "--ckpt", "base", "--n", "4", "--judges", "shapes-pf"]) == 0
    )
    proc, url, _ = start_app(home)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workbench = [sys.executable, "-m", "workbench"]
    eval_job = subprocess.Popen(
        [*workbench, "eval", "--ckpt", "base", "--judges", "shapes-pf,technical"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    train_job = subprocess.Popen(
        [
            *workbench,
            "train",
            "--name",
            "busy",
            "--init",
            "base",
            "--steps",
            str(TRAIN_STEPS),
            "--batch-size",
            "2",
            "--checkpoint-every",
            "40",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    acknowledged: list[str] = []
    latencies: list[float] = []
    problems: list[str] = []
    stop = time.monotonic() + SECONDS

    def annotator(name: str) -> None:
        client = Client(url, verbose=False)
        while time.monotonic() < stop:
            started = time.monotonic()
            _, battle, status, *_ = client.predict(
                name, "shapes", "test", ["gt", "base"], api_name="/next_battle"
            )
            if not battle:
                problems.append(f"{name}: no battle ({status})")
                continue
            status, _ = client.predict(name, battle, "A is better", "same", api_name="/vote_battle")
            latencies.append(time.monotonic() - started)
            if status == "Vote stored.":
                acknowledged.append(battle)
            else:
                problems.append(f"{name}: {status}")

    threads = [
        threading.Thread(target=annotator, args=(f"annotator {i}",)) for i in range(ANNOTATORS)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert eval_job.wait(timeout=600) == 0, eval_job.stderr.read().decode()[-2000:]
        assert train_job.wait(timeout=600) == 0, train_job.stderr.read().decode()[-2000:]
    finally:
        for job in (eval_job, train_job, proc):
            job.kill()

    assert not problems, problems[:5]
    store = Store(home)
    votes = store.query("SELECT battle_id, count(*) AS n FROM votes GROUP BY battle_id")
    per_battle = {r["battle_id"]: r["n"] for r in votes}
    assert all(per_battle.get(b) == 2 for b in acknowledged), "an acknowledged vote is missing"
    metrics = store.query(
        """SELECT count(DISTINCT m.step) AS steps, count(*) AS rows,
                  count(DISTINCT m.name) AS names FROM train_metrics m
           JOIN runs r ON r.id = m.run_id WHERE r.config->>'name' = 'busy'"""
    )[0]
    assert metrics["steps"] == TRAIN_STEPS and metrics["rows"] == TRAIN_STEPS * metrics["names"]
    scored = store.query(
        """SELECT s.judge, count(DISTINCT s.video_id) AS videos FROM scores s
           JOIN generations g ON g.video_id = s.video_id WHERE g.checkpoint = 'base'
           GROUP BY s.judge"""
    )
    generated = store.query(
        "SELECT count(DISTINCT video_id) AS n FROM generations WHERE checkpoint = 'base'"
    )[0]["n"]
    assert {r["judge"]: r["videos"] for r in scored} == {
        "shapes-pf": generated,
        "technical": generated,
    }
    print(
        f"\nload: {len(acknowledged)} battles voted by {ANNOTATORS} annotators in {SECONDS} s "
        f"({len(acknowledged) / SECONDS:.2f} votes/s), slowest vote {max(latencies):.2f} s, "
        f"median {sorted(latencies)[len(latencies) // 2]:.2f} s; {generated} videos scored, "
        f"{metrics['rows']} metric rows"
    )

"""The main job timed from an empty home, as a new user meets it: `python app.py` starts the
paper's study in the background; this polls the page like a browser and reads the study's
stage records for when the base was scored, the first seed was judged and reported, and
each later seed.

    python scripts/time_main_job.py --home /tmp/main-job

Writes docs/results/main-job-timing.{md,json}, headed by the command, code version, date and
machine that made it, and leaves the home for `workbench report` (docs/results/main-job/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.experiments import paper_plan, stage_status  # noqa: E402
from workbench.launch import free_port  # noqa: E402
from workbench.provenance import made_by  # noqa: E402
from workbench.store import Store  # noqa: E402

# What a user waits for, and the stage whose end marks it.
MILESTONES = {
    "ground truth and base scored": "eval-base",
    "first seed judged": "eval",
    "first seed reported": "report",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an empty folder")
    parser.add_argument("--preset", default="tiny-early")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "main-job-timing")
    args = parser.parse_args()
    if args.home.exists() and any(args.home.iterdir()):
        sys.exit(f"error: {args.home} is not empty")
    port = free_port()
    command = [
        *(sys.executable, str(ROOT / "app.py"), "--home", str(args.home), "--port", str(port)),
        *("--study", args.preset, "--seeds", str(args.seeds)),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.time()
    app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first_page = _first_page(f"http://127.0.0.1:{port}/", started)
        last = paper_plan(args.preset, args.seeds)[-1].name
        while not _done(args.home, last):
            time.sleep(5)
    finally:
        app.terminate()
        app.wait()
    rows = stage_status(Store(args.home), "paper")
    ends = {r["stage"]: r["started"].timestamp() + r["seconds"] - started for r in rows}
    milestones = {"first page": first_page}
    milestones |= {label: ends[stage] for label, stage in MILESTONES.items()}
    milestones |= {f"seed {s} reported": ends[f"report-s{s}"] for s in range(1, args.seeds)}
    made = made_by(
        f"python scripts/time_main_job.py --home {args.home} --preset "
        f"{args.preset} --seeds {args.seeds}"
    )
    stages = [{"stage": r["stage"], "seconds": r["seconds"]} for r in rows]
    _write(args.out, made, milestones, stages)


def _write(out: Path, made: dict, milestones: dict[str, float], stages: list[dict]) -> None:
    """The timing as JSON and as a Markdown table, each headed by what made it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"provenance": made, "seconds_from_launch": milestones, "stages": stages}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    lines = [
        "# The main job timed from an empty home",
        "",
        f"Made by `{made['command']}` at {made['code_version']} on {made['date']}, "
        f"{made['machine']}.",
        "",
        "| milestone | from launch |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.0f} s ({v / 60:.1f} min) |" for k, v in milestones.items()]
    lines += ["", "| stage | seconds |", "|---|---|"]
    lines += [f"| {s['stage']} | {s['seconds']:.0f} |" for s in stages]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(out.with_suffix(".md"))


def _first_page(url: str, started: float) -> float:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                if page.status == 200:
                    return time.time() - started
        except OSError:
            time.sleep(0.2)


def _done(home: Path, stage: str) -> bool:
    if not (home / "workbench.duckdb").exists():
        return False
    rows = stage_status(Store(home), "paper")
    failed = [r["stage"] for r in rows if r["status"] == "failed"]
    if failed:
        sys.exit(f"error: stage {failed[0]} failed; see {home}/logs/study.log")
    return any(r["stage"] == stage and r["status"] == "done" for r in rows)


if __name__ == "__main__":
    main()

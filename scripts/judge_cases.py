"""The README's tables of what the judges see: ground-truth clips broken in one way each
(tests/degenerate.py), scored as `workbench eval` scores them (stored as H.264, against the
sample's truth), means over N world clips. Writes docs/results/judge-cases.{md,json}, headed
by the command, code version, date, machine and seed that made them.

    python scripts/judge_cases.py [--n 24]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from degenerate import DEGENERATE, TEMPORAL  # noqa: E402

from evaluators.base import VideoItem  # noqa: E402
from evaluators.registry import get_judge  # noqa: E402
from workbench import media  # noqa: E402
from workbench.provenance import made_by  # noqa: E402
from workbench.world.shapes import WorldConfig, make_sample  # noqa: E402

JUDGES = ("shapes-pf", "shapes-vq", "technical")


def score(frames: np.ndarray, sample) -> dict[str, dict[str, float]]:
    item = VideoItem(
        "v", media.h264_round_trip(frames), sample.prompt, sample.attributes, sample.frames, fps=8
    )
    return {judge: get_judge(judge).score([item])[0] for judge in JUDGES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=24, help="world clips per case")
    parser.add_argument("--seed", type=int, default=0, help="the world's seed")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    cfg = WorldConfig()
    samples = [make_sample(cfg, args.seed, i) for i in range(args.n)]
    named = {
        "ground truth": [],
        **{f.__name__.rstrip("_"): [(j, d) for j, d in pairs] for f, pairs in TEMPORAL.items()},
        **{f.__name__: [("shapes-vq", d)] for f, d in DEGENERATE.items()},
    }
    makers = {f.__name__.rstrip("_"): f for f in [*TEMPORAL, *DEGENERATE]}
    rows = {}
    for case in named:
        make = makers.get(case, lambda cfg, attributes, frames: frames)
        scores = [score(make(cfg, s.attributes, s.frames), s) for s in samples]
        rows[case] = {
            judge: {
                dim: float(np.mean([x[judge][dim] for x in scores])) for dim in scores[0][judge]
            }
            for judge in JUDGES
        }
    head = {**made_by(" ".join(["python", *sys.argv])), "seed": args.seed, "clips": args.n}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "judge-cases.json").write_text(json.dumps({**head, "cases": rows}, indent=1))
    lines = [
        f"<!-- made by `{head['command']}` at {head['code_version']} on {head['date']}, "
        f"{head['machine']}, world seed {args.seed}, {args.n} clips per case -->",
        "",
        "| video | PF overall | VQ overall | technical overall | the dimensions that name "
        "the fault |",
        "|---|---|---|---|---|",
    ]
    truth = rows["ground truth"]
    for case, pairs in named.items():
        r = rows[case]
        faults = ", ".join(
            f"{j.removeprefix('shapes-').upper()} {d} {r[j][d]:.2f} (truth {truth[j][d]:.2f})"
            for j, d in pairs
        )
        lines.append(
            f"| {case} | {r['shapes-pf']['overall']:.2f} | {r['shapes-vq']['overall']:.2f}"
            f" | {r['technical']['overall']:.2f} | {faults} |"
        )
    (args.out / "judge-cases.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

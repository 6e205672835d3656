"""Old judges against new on one home: per checkpoint, the mean of each judge version's
dimensions over the same videos (every version that scored them). For rescoring after a
judge changes: `workbench eval` stores the new version beside the old one.

    python scripts/judge_versions.py --home workbench-data --name main-job \\
        --ckpt gt --ckpt base --ckpt sft --ckpt dpo --ckpt regdpo

Writes docs/results/judge-versions-<name>.{md,json}, headed by the command, code version,
date and machine that made it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.provenance import made_by  # noqa: E402
from workbench.sources import source_videos  # noqa: E402
from workbench.store import Store  # noqa: E402

SHOWN = {
    "shapes-pf": ("overall", "motion", "direction", "travel", "continuity", "dynamics"),
    "shapes-vq": ("overall", "smoothness", "persistence", "background_continuity"),
    "technical": ("overall", "stutter", "motion"),
}


def version_means(store: Store, dataset: str, split: str, ckpt: str) -> dict[str, dict]:
    """judge -> version -> dimension -> mean over the checkpoint's videos both versions scored."""
    videos = list(source_videos(store, dataset, split, ckpt).values())
    if not videos:
        return {}
    marks = ", ".join("?" for _ in videos)
    rows = store.query(
        f"""SELECT judge, judge_version AS version, dimension, video_id, value FROM scores
            WHERE video_id IN ({marks}) AND judge IN ({", ".join("?" for _ in SHOWN)})""",
        [*videos, *SHOWN],
    )
    out: dict[str, dict] = {}
    for judge in SHOWN:
        mine = [r for r in rows if r["judge"] == judge]
        versions = sorted({r["version"] for r in mine}, key=int)
        common = (
            set.intersection(
                *({r["video_id"] for r in mine if r["version"] == v} for v in versions)
            )
            if versions
            else set()
        )
        for v in versions:
            per_dim: dict[str, list[float]] = {}
            for r in mine:
                if r["version"] == v and r["video_id"] in common and r["value"] is not None:
                    per_dim.setdefault(r["dimension"], []).append(r["value"])
            out.setdefault(judge, {})[v] = {d: sum(x) / len(x) for d, x in per_dim.items()} | {
                "videos": len(common)
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--name", required=True, help="names the output files")
    parser.add_argument("--ckpt", action="append", required=True)
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    store = Store(args.home)
    means = {c: version_means(store, args.dataset, args.split, c) for c in args.ckpt}
    head = {**made_by(" ".join(["python", *sys.argv])), "home": str(args.home)}
    lines = [
        f"<!-- made by `{head['command']}` at {head['code_version']} on {head['date']}, "
        f"{head['machine']} -->",
        "",
    ]
    for judge, dims in SHOWN.items():
        versions = sorted({v for m in means.values() for v in m.get(judge, {})}, key=int)
        lines += [
            f"**{judge}** (versions {', '.join(versions)}; means over the videos every "
            "version scored)",
            "",
            "| checkpoint | videos | "
            + " | ".join(f"{d} v{v}" for d in dims for v in versions)
            + " |",
            "|---|---|" + "---|" * (len(dims) * len(versions)),
        ]
        for ckpt, m in means.items():
            per = m.get(judge, {})
            cells = [
                f"{per[v][d]:.3f}" if d in per.get(v, {}) else "-" for d in dims for v in versions
            ]
            videos = next(iter(per.values()), {}).get("videos", 0)
            lines.append(f"| {ckpt} | {videos} | " + " | ".join(cells) + " |")
        lines.append("")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"judge-versions-{args.name}"
    stem.with_suffix(".json").write_text(json.dumps({**head, "means": means}, indent=1))
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

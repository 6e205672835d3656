"""The README's native-against-official VBench table: the official package (in its own
environment, `workbench vbench run`) and the native judges on the same mp4 files of a home's
sources, per video. Writes docs/results/vbench-parity.{md,json}, headed by the command, code
version, date and machine that made them.

    python scripts/vbench_parity.py --home HOME --ckpt gt --ckpt base [--env .vbench-env]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from workbench.provenance import made_by  # noqa: E402
from workbench.store import Store  # noqa: E402

# Official dimension -> the native judge and dimension that stand for it on every video.
NATIVE = {"temporal_flickering": ("vbench", "temporal_flickering_unfiltered")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--ckpt", action="append", required=True)
    parser.add_argument("--env", type=Path, default=ROOT / ".vbench-env")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    wb = [sys.executable, "-m", "workbench", "--home", str(args.home)]
    for ckpt in args.ckpt:
        judges = ",".join(sorted({j for j, _ in NATIVE.values()}))
        subprocess.run([*wb, "eval", "--ckpt", ckpt, "--judges", judges], check=True)
        dims = ",".join(NATIVE)
        subprocess.run(
            [*wb, "vbench", "run", "--ckpt", ckpt, "--dimensions", dims, "--env", str(args.env)],
            check=True,
        )
    rows = _pairs(Store(args.home), args.ckpt)
    head = made_by(" ".join(["python", *sys.argv]))
    record = json.loads((args.env / "workbench-vbench.json").read_text())["installed"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vbench-parity.json").write_text(
        json.dumps({**head, "official": record, "videos": rows}, indent=1)
    )
    lines = [
        f"<!-- made by `{head['command']}` at {head['code_version']} on {head['date']}, "
        f"{head['machine']}; official vbench {record.get('vbench')} -->",
        "",
        "| source | dimension | videos | native mean | official mean | max abs diff | mean diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for (source, dim), group in _grouped(rows).items():
        diffs = [r["native"] - r["official"] for r in group]
        lines.append(
            f"| {source} | {dim} | {len(group)} | {_mean(r['native'] for r in group):.5f} | "
            f"{_mean(r['official'] for r in group):.5f} | {max(map(abs, diffs)):.1e} | "
            f"{_mean(diffs):+.1e} |"
        )
    lines += [
        "",
        "Per video:",
        "",
        "| source | video | dimension | native | official |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['source']} | {r['video']} | {r['dimension']} | {r['native']:.6f} | "
        f"{r['official']:.6f} |"
        for r in rows
    ]
    (args.out / "vbench-parity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[: 8 + len(_grouped(rows))]))


def _pairs(store: Store, sources: list[str]) -> list[dict]:
    """Per source, video and dimension: the native and the official score (newest native)."""
    from workbench.sources import source_videos

    rows = []
    for source in sources:
        videos = sorted(source_videos(store, "shapes", "test", source).values())
        for dim, (judge, native_dim) in NATIVE.items():
            found = store.query(
                "SELECT n.video_id, arg_max(n.value, n.created_at) AS native, "
                "arg_max(o.value, o.created_at) AS official FROM scores n JOIN scores o "
                "ON o.video_id = n.video_id AND o.judge = 'vbench-official' AND o.dimension = ? "
                "WHERE n.judge = ? AND n.dimension = ? AND list_contains(?, n.video_id) "
                "GROUP BY n.video_id ORDER BY n.video_id",
                [dim, judge, native_dim, videos],
            )
            rows += [
                {
                    "source": source,
                    "video": r["video_id"],
                    "dimension": dim,
                    "native": r["native"],
                    "official": r["official"],
                }
                for r in found
            ]
    return rows


def _grouped(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["source"], r["dimension"]), []).append(r)
    return groups


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


if __name__ == "__main__":
    main()

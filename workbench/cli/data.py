"""`workbench data`: import real videos, list datasets."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys

from workbench.cli.output import emit
from workbench.errors import WorkbenchError
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="datasets: import real videos, list")
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    imp = commands.add_parser(
        "import",
        help="import a folder of videos with captions (all or nothing, or --skip-bad)",
        epilog="captions: CSV with a header (file,caption[,split]) or JSONL "
        '({"file": ..., "caption": ...}).\n'
        "example:\n  workbench data import --videos clips/ --captions clips.csv "
        "--dataset real --size 480x832 --frames 81 --fps 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("--videos", required=True, help="folder of video files")
    imp.add_argument("--captions", required=True, help="CSV or JSONL mapping file -> caption")
    imp.add_argument("--dataset", default="videos", help="dataset name (default: videos)")
    imp.add_argument("--fps", type=float, default=None, help="new dataset: frame rate (8)")
    imp.add_argument("--frames", type=int, default=None, help="new dataset: frames (8)")
    imp.add_argument("--size", default=None, help="new dataset: HxW (32x32)")
    imp.add_argument(
        "--split",
        default="train",
        choices=("train", "test"),
        help="split for rows without a split column",
    )
    imp.add_argument("--skip-bad", action="store_true", help="import the good files anyway")
    imp.set_defaults(run=run_import)
    ls = commands.add_parser("list", help="datasets with their format and sample counts")
    ls.set_defaults(run=run_list)
    sheet = commands.add_parser(
        "sheet",
        help="a contact sheet PNG of a dataset's clips, or of checkpoints' videos beside them",
        epilog="examples:\n  workbench data sheet --split test --n 8\n"
        "  workbench data sheet --split test --n 8 --ckpt base --ckpt regdpo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sheet.add_argument("--dataset", default="shapes")
    sheet.add_argument("--split", default=None, choices=("train", "test"))
    sheet.add_argument("--n", type=int, default=8, help="samples, first by index")
    sheet.add_argument(
        "--ckpt",
        action="append",
        default=[],
        help="repeat: under each clip, this checkpoint's video for its prompt (the one "
        "`workbench eval` scores: seed 0 + index, default sampler; made if missing)",
    )
    sheet.add_argument(
        "--out", default=None, help="PNG path (default: <home>/sheets/<dataset>[-<ckpt>...].png)"
    )
    sheet.set_defaults(run=run_sheet)


def run_import(args: argparse.Namespace) -> int:
    from workbench.importer import import_videos

    store = Store(args.home)
    spec = _import_spec(store, args)
    outcomes = import_videos(store, args.videos, args.captions, spec, args.split, args.skip_bad)
    rows = [dataclasses.asdict(o) | {"ok": o.ok} for o in outcomes]
    emit(args, rows)
    bad = sum(not o.ok for o in outcomes)
    if bad:
        print(f"skipped {bad} bad file(s); imported {len(outcomes) - bad}", file=sys.stderr)
    return 0


def _import_spec(store: Store, args: argparse.Namespace):
    """The dataset's format: the existing dataset's, else the flags' (with defaults)."""
    from workbench.datasets import DatasetSpec, stored_dataset

    existing = stored_dataset(store, args.dataset)
    if existing is not None:
        return existing
    size = args.size or "32x32"
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if not match or int(match[1]) % 2 or int(match[2]) % 2:
        raise WorkbenchError(f"--size must be HxW with even sides, got {size!r}")
    fps, frames = args.fps or 8.0, args.frames or 8
    if fps <= 0 or frames < 1:
        raise WorkbenchError("--fps must be > 0 and --frames >= 1")
    return DatasetSpec(
        name=args.dataset,
        kind="videos",
        fps=fps,
        frames=frames,
        height=int(match[1]),
        width=int(match[2]),
        config={},
    )


def run_list(args: argparse.Namespace) -> int:
    from workbench.datasets import list_datasets

    emit(args, list_datasets(Store(args.home)))
    return 0


def run_sheet(args: argparse.Namespace) -> int:
    from workbench import media
    from workbench.datasets import get_dataset, load_gt_frames, load_samples
    from workbench.generation import generate

    store = Store(args.home)
    spec = get_dataset(store, args.dataset)
    samples = load_samples(store, args.dataset, args.split)[: args.n]
    if not samples:
        raise WorkbenchError(f"dataset {args.dataset!r} has no {args.split or ''} samples")
    if args.ckpt and args.split is None:
        raise WorkbenchError("--ckpt needs --split (videos are generated per split)")
    out = args.out or store.home / "sheets" / f"{'-'.join([args.dataset, *args.ckpt])}.png"
    rows = [[("gt", load_gt_frames(store, s, spec))] for s in samples]
    for ckpt in args.ckpt:
        made = generate(store, ckpt, args.dataset, args.split, len(samples))
        paths = store.video_paths([m["video_id"] for m in made])
        for row, m in zip(rows, made, strict=True):
            row.append((ckpt, media.read_video(paths[m["video_id"]])[0]))
    clips = [clip for row in rows for _, clip in row]
    labels = [
        f"{source}: {s['prompt'][:60]}" if args.ckpt else s["prompt"][:60]
        for s, row in zip(samples, rows, strict=True)
        for source, _ in row
    ]
    media.contact_sheet(clips, out, labels=labels, scale=3)
    emit(args, {"sheet": str(out), "clips": len(clips)})
    return 0

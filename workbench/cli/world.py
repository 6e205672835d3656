"""`workbench world make`: procedural shapes-world datasets."""

from __future__ import annotations

import argparse

from workbench.cli.output import emit
from workbench.errors import WorkbenchError
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("world", help="the shapes world (embedded default data)")
    commands = parser.add_subparsers(dest="world_command", required=True, metavar="ACTION")
    make = commands.add_parser(
        "make",
        help="render N clips (train + held-out test) into a dataset",
        epilog="examples:\n  workbench world make --n 256\n"
        "  workbench world make --n 64 --dataset shapes2 --max-objects 2 --two-object-prob 0.3"
        " --motions left,right,up,down,grow,shrink",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    make.add_argument("--n", type=int, required=True, help="samples 0..N-1 (reruns add missing)")
    make.add_argument("--dataset", default="shapes", help="dataset name (default: shapes)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--frames", type=int, default=8)
    make.add_argument("--size", type=int, default=32, help="height = width, even")
    make.add_argument("--fps", type=int, default=8)
    make.add_argument(
        "--motions",
        default="left,right,up,down",
        help="comma list of left,right,up,down,grow,shrink",
    )
    make.add_argument("--max-objects", type=int, default=1, choices=(1, 2))
    make.add_argument("--two-object-prob", type=float, default=0.0)
    make.add_argument("--test-fraction", type=float, default=0.2)
    make.add_argument(
        "--cued-start",
        action="store_true",
        help="start objects anywhere their path fits (the start position then "
        "predicts the motion; default: only where every motion fits)",
    )
    make.set_defaults(run=run_make)


def run_make(args: argparse.Namespace) -> int:
    from workbench.world.dataset import make_world_dataset
    from workbench.world.shapes import WorldConfig

    if args.n < 1:
        raise WorkbenchError(f"--n must be >= 1, got {args.n}")
    try:
        cfg = WorldConfig(
            frames=args.frames,
            size=args.size,
            fps=args.fps,
            motions=tuple(m.strip() for m in args.motions.split(",") if m.strip()),
            max_objects=args.max_objects,
            two_object_prob=args.two_object_prob,
            test_fraction=args.test_fraction,
            cue_free_start=not args.cued_start,
        )
    except ValueError as exc:
        raise WorkbenchError(f"bad world config: {exc}") from exc
    summary = make_world_dataset(Store(args.home), args.dataset, cfg, args.n, args.seed)
    emit(args, summary)
    return 0

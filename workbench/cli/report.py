"""`workbench report`: Markdown + HTML report with GSB, VBench-style tables and curves."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import emit
from workbench.ratings import TIE_MARGIN
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="tables (GSB with CIs, VBench rank-sum, judge means) and training curves",
        epilog="example:\n  workbench report --ckpt gt --ckpt base --ckpt dpo --ckpt regdpo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ckpt", action="append", required=True, help="repeat; 'gt' = dataset")
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--split", default="test", choices=("train", "test"))
    parser.add_argument("--margin", type=float, default=TIE_MARGIN, help="GSB tie margin")
    parser.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="only videos sampled with this guidance scale (default: each source's newest)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder (default <home>/report, or <home>/report-g<scale> with --guidance)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from workbench.checkpoint_registry import list_checkpoints
    from workbench.datasets import get_dataset
    from workbench.errors import unknown_name
    from workbench.report.writers import write_report
    from workbench.sources import source_names

    store = Store(args.home)
    get_dataset(store, args.dataset)
    known = {
        *source_names(store, args.dataset),
        *(r["name"] for r in list_checkpoints(store)),
    }
    for name in args.ckpt:
        if name not in known:
            raise unknown_name("checkpoint", name, known)
    sampled = "" if args.guidance is None else f"-g{args.guidance:g}"
    out = args.out or store.home / f"report{sampled}"
    command = " ".join(
        [
            "workbench report",
            *(f"--ckpt {c}" for c in args.ckpt),
            f"--dataset {args.dataset} --split {args.split} --margin {args.margin}",
            *([] if args.guidance is None else [f"--guidance {args.guidance:g}"]),
        ]
    )
    path = write_report(
        store, args.dataset, args.split, args.ckpt, out, args.margin, command, args.guidance
    )
    emit(args, {"report": str(path), "html": str(path.with_suffix(".html"))})
    return 0

"""`workbench generate`: a checkpoint's videos for a dataset split (cached)."""

from __future__ import annotations

import argparse

from workbench.cli.output import emit
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate videos for a dataset split with a checkpoint (reuses what exists)",
        epilog="example:\n  workbench generate --ckpt base --dataset shapes --split test --n 16",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ckpt", required=True, help="registered name or model folder")
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--split", default="test", choices=("train", "test"))
    parser.add_argument("--n", type=int, default=None, help="first N samples (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sample i uses seed + i")
    parser.add_argument("--steps", type=int, default=None, help="default: the model's")
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--shift", type=float, default=None)
    parser.add_argument(
        "--scheduler",
        default=None,
        choices=("euler", "unipc"),
        help="default: the model's (unipc for Wan2.1 pipelines)",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--nproc", type=int, default=1, help="processes under torchrun, the work shared out"
    )
    parser.add_argument(
        "--offload", action="store_true", help="each part on the CPU except while it works"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from workbench.generation import generate
    from workbench.launch import relaunch

    if (code := relaunch(args.argv, args.nproc)) is not None:
        return code

    rows = generate(
        Store(args.home),
        args.ckpt,
        args.dataset,
        args.split,
        args.n,
        args.seed,
        args.batch_size,
        steps=args.steps,
        guidance=args.guidance,
        shift=args.shift,
        scheduler=args.scheduler,
        offload=args.offload,
    )
    new = sum(r["new"] for r in rows)
    emit(
        args,
        rows,
        [
            {
                "checkpoint": args.ckpt,
                "videos": len(rows),
                "generated": new,
                "reused": len(rows) - new,
            }
        ],
    )
    return 0

"""`workbench gtpair build`: GT-Pairs (real video wins, a rollout loses)."""

from __future__ import annotations

import argparse

from workbench.cli.output import emit
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("gtpair", help="GT-Pair sets: real video = winner")
    commands = parser.add_subparsers(dest="gtpair_command", required=True, metavar="ACTION")
    build = commands.add_parser(
        "build",
        help="pair each sample's real video with rollouts of generator checkpoints",
        epilog="example:\n  workbench gtpair build --dataset shapes --generators base "
        "--per-sample 2 --name gt-shapes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--dataset", default="shapes")
    build.add_argument("--generators", required=True, help="comma list of checkpoints")
    build.add_argument("--per-sample", type=int, default=1, help="rollouts per generator")
    build.add_argument("--name", default=None, help="pair set name (default: gt-DATASET)")
    build.add_argument("--split", default="train", choices=("train", "test"))
    build.add_argument("--n", type=int, default=None, help="first N samples (default: all)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--steps", type=int, default=None, help="sampler steps (model default)")
    build.add_argument("--guidance", type=float, default=None)
    build.add_argument(
        "--nproc", type=int, default=1, help="processes under torchrun, the work shared out"
    )
    build.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    from workbench.launch import relaunch
    from workbench.pairsets.gtpair import build_gtpairs

    if (code := relaunch(args.argv, args.nproc)) is not None:
        return code

    generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    summary = build_gtpairs(
        Store(args.home),
        args.dataset,
        generators,
        args.name or f"gt-{args.dataset}",
        args.per_sample,
        args.split,
        args.n,
        args.seed,
        steps=args.steps,
        guidance=args.guidance,
    )
    emit(args, summary)
    return 0

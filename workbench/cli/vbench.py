"""`workbench vbench setup` and `workbench vbench run`: the official VBench package in an
environment of its own (evaluators/vbench_official.py), its scores stored beside the native
judges' (the report prefers them)."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import emit
from workbench.store import Store

ENV_HELP = "the VBench environment (default <home>/vbench-env)"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("vbench", help="the official VBench, in its own environment")
    actions = parser.add_subparsers(dest="vbench_command", required=True, metavar="ACTION")
    setup = actions.add_parser(
        "setup",
        help="make a venv with the official vbench 0.1.5 and its pins (downloads: opt-in)",
        epilog="example:\n  workbench vbench setup   # -> <home>/vbench-env",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    setup.add_argument("--env", type=Path, default=None, help=ENV_HELP)
    setup.set_defaults(run=run_setup)
    run = actions.add_parser(
        "run",
        help="score a source's videos with the official evaluator and store the scores",
        epilog="example:\n  workbench vbench run --ckpt regdpo --dimensions temporal_flickering",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--ckpt", required=True, help="a checkpoint, or gt for the real videos")
    run.add_argument(
        "--dimensions",
        default="temporal_flickering",
        help="comma list of VBench dimensions (default needs no weights; others make VBench "
        "download its own)",
    )
    run.add_argument("--dataset", default="shapes")
    run.add_argument("--split", default="test", choices=("train", "test"))
    run.add_argument("--env", type=Path, default=None, help=ENV_HELP)
    run.set_defaults(run=run_official_vbench)


def _env(args: argparse.Namespace) -> Path:
    return args.env or Store(args.home).home / "vbench-env"


def run_setup(args: argparse.Namespace) -> int:
    from evaluators.vbench_official import setup_env

    emit(args, setup_env(_env(args), progress=not args.json))
    return 0


def run_official_vbench(args: argparse.Namespace) -> int:
    from evaluators.vbench import ingest_official_results
    from evaluators.vbench_official import run_official

    store = Store(args.home)
    dims = args.dimensions.split(",")
    results = run_official(store, _env(args), args.ckpt, args.dataset, args.split, dims)
    emit(args, {"results": str(results), "scores": ingest_official_results(store, results)})
    return 0

"""`workbench checkpoints`: what is registered, its method, parent and videos; `checkpoints
add` registers a model folder (or the embedded base) under a name."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import emit
from workbench.models import EMBEDDED_BASES
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("checkpoints", help="list checkpoints and external sources")
    parser.set_defaults(run=run)
    actions = parser.add_subparsers(dest="checkpoints_command", metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="copy a model folder into the home and register it under a name",
        epilog="examples:\n  workbench checkpoints add --name base --embedded\n"
        "  workbench checkpoints add --name base --embedded tiny-early\n"
        "  workbench checkpoints add --name wan --path /models/Wan2.1-T2V-1.3B-Diffusers",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("--name", required=True)
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--path", type=Path, help="a model folder")
    source.add_argument(
        "--embedded",
        nargs="?",
        const="tiny",
        choices=list(EMBEDDED_BASES),
        help="a shipped shapes-world base, by its study preset (default tiny)",
    )
    add.add_argument("--method", default="base", help="recorded method (default base)")
    add.set_defaults(run=run_add)
    export = actions.add_parser(
        "export",
        help="a folder diffusers loads as it is, with a model card (the Hub's format)",
        epilog="examples:\n  workbench checkpoints export regdpo --out shared/regdpo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("name")
    export.add_argument("--out", type=Path, required=True, help="a new folder")
    export.add_argument("--dataset", default="shapes", help="whose test prompts the card reports")
    export.set_defaults(run=run_export)


def run(args: argparse.Namespace) -> int:
    from workbench.checkpoint_registry import list_checkpoints

    emit(args, list_checkpoints(Store(args.home)))
    return 0


def run_add(args: argparse.Namespace) -> int:
    from workbench.checkpoint_registry import add_checkpoint

    folder = EMBEDDED_BASES[args.embedded] if args.embedded else args.path
    ref = add_checkpoint(Store(args.home), args.name, folder, args.method)
    emit(args, {"checkpoint": ref.name, "path": str(ref.path), "task": ref.task})
    return 0


def run_export(args: argparse.Namespace) -> int:
    from workbench.export import export_checkpoint

    out = export_checkpoint(Store(args.home), args.name, args.out, args.dataset)
    emit(args, {"checkpoint": args.name, "exported": str(out), "card": str(out / "README.md")})
    return 0

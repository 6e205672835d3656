"""`workbench checkpoints`: what is registered, its method, parent and videos."""

from __future__ import annotations

import argparse

from workbench.cli.output import emit
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("checkpoints", help="list checkpoints and external sources")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from workbench.checkpoints import list_checkpoints

    emit(args, list_checkpoints(Store(args.home)))
    return 0

"""`workbench votes export` and `workbench pairs from-votes`: human votes out as CSV, or as a
pair set that `workbench train --pairs` accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import emit
from workbench.store import Store


def add_parser(subparsers) -> None:
    votes = subparsers.add_parser("votes", help="human votes collected by the app")
    actions = votes.add_subparsers(dest="votes_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the votes as CSV (prompt, video paths, VQ / PF labels, annotator, time)",
        epilog="example:\n  workbench votes export --out votes.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("--out", type=Path, default=None, help="default <home>/votes.csv")
    export.set_defaults(run=run_export)

    pairs = subparsers.add_parser("pairs", help="pair sets from votes")
    actions = pairs.add_subparsers(dest="pairs_command", required=True, metavar="ACTION")
    from_votes = actions.add_parser(
        "from-votes",
        help="each voted pair of videos whose preferred side has enough agreeing votes",
        epilog="example:\n  workbench pairs from-votes --name annotated --min-agree 2\n"
        "  workbench train --method regdpo --pairs annotated --init base --name regdpo-ann",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from_votes.add_argument("--name", required=True, help="name of the new pair set")
    from_votes.add_argument("--min-agree", type=int, default=1,
                            help="votes the winner needs (and more than the loser)")  # fmt: skip
    from_votes.set_defaults(run=run_from_votes)


def run_export(args: argparse.Namespace) -> int:
    from workbench.battles import export_votes

    store = Store(args.home)
    out = args.out or store.home / "votes.csv"
    emit(args, {"votes": str(out), "rows": export_votes(store, out)})
    return 0


def run_from_votes(args: argparse.Namespace) -> int:
    from workbench.battles import pairs_from_votes

    emit(args, pairs_from_votes(Store(args.home), args.name, args.min_agree))
    return 0

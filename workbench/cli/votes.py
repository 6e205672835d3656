"""`workbench votes export` and `workbench pairs ...`: human votes out as CSV or arena
records, and the pair sets `workbench train --pairs` accepts beyond GT-Pairs: from votes,
from a simulated annotator where too few people have voted, judge-mined, denoised from the
real video, locally corrupted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.cli.output import emit
from workbench.pairsets import ORACLE_JUDGES, REGIONS
from workbench.store import Store


def add_parser(subparsers) -> None:
    votes = subparsers.add_parser("votes", help="human votes collected by the app")
    actions = votes.add_subparsers(dest="votes_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the votes as CSV (prompt, video paths, VQ / PF labels, annotator, time) "
        "or as FastChat's arena battle records",
        epilog="examples:\n  workbench votes export --out votes.csv\n"
        "  workbench votes export --format arena   # -> <home>/votes-arena.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--format",
        choices=("csv", "arena"),
        default="csv",
        help="csv: one row per battle and annotator (VideoAlign-style labels); arena: "
        "FastChat's clean battle records, one per vote and aspect (JSON)",
    )
    export.add_argument(
        "--out", type=Path, default=None, help="default <home>/votes.csv or votes-arena.json"
    )
    export.set_defaults(run=run_export)

    pairs = subparsers.add_parser(
        "pairs",
        help="pair sets beyond GT-Pairs: votes, simulated, judge-mined, denoised, corrupted",
    )
    actions = pairs.add_subparsers(dest="pairs_command", required=True, metavar="ACTION")
    from_votes = actions.add_parser(
        "from-votes",
        help="each voted pair of rollouts (Annotate tab) whose preferred side has enough "
        "agreeing annotators",
        epilog="example:\n  workbench pairs from-votes --name annotated --min-agree 2\n"
        "  workbench train --method regdpo --pairs annotated --init base --name regdpo-ann",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from_votes.add_argument("--name", required=True, help="name of the new pair set")
    from_votes.add_argument(
        "--min-agree",
        type=int,
        default=1,
        help="annotators the winner needs (and more than the loser)",
    )
    from_votes.add_argument(
        "--aspect", default="both", help="which answers count: vq, pf, or both alike (default)"
    )
    from_votes.set_defaults(run=run_from_votes)
    simulate = _pair_builder(
        actions,
        "simulate",
        "annotated pairs (two rollouts, the better wins) chosen by a simulated annotator: "
        "the shapes judges plus Gaussian noise",
        "--generator base --n 128 --noise 0.05 --name annotated-sim",
        "checkpoint whose rollouts compete",
        run_simulate,
    )
    simulate.add_argument("--per-sample", type=int, default=2, help="rollouts per sample")
    _judges_arguments(simulate)
    simulate.add_argument(
        "--noise",
        type=float,
        default=0.05,
        help="sd of the noise on the judged utility (0 = a perfect oracle)",
    )
    mine = _pair_builder(
        actions,
        "mine",
        "judge-mined pairs (VideoDPO): of N rollouts per prompt, the judges' best over "
        "their worst when at least --gap apart",
        "--generator base --per-sample 4 --gap 0.05 --n 128 --name mined",
        "checkpoint whose rollouts compete",
        run_mine,
    )
    mine.add_argument("--per-sample", type=int, default=4, help="rollouts per sample (N)")
    _judges_arguments(mine)
    mine.add_argument("--gap", type=float, default=0.05, help="least utility gap of a pair")
    denoise = _pair_builder(
        actions,
        "denoise",
        "denoised-from-real pairs (DenseDPO): the real video over the generator's "
        "denoising of a partly noised copy of it",
        "--generator base --strength 0.5 --n 128 --name denoised",
        "checkpoint that denoises",
        run_edit,
    )
    denoise.add_argument(
        "--strength", type=float, default=0.5, help="noise level the copy starts from, (0, 1]"
    )
    denoise.set_defaults(region=None, span=1.0)  # the whole clip
    corrupt = _pair_builder(
        actions,
        "corrupt",
        "locally corrupted pairs (LocalDPO): the real video over itself with a region (the "
        "object or the background, in a window of frames) made anew by the generator",
        "--generator base --region object --span 0.5 --n 128 --name corrupted",
        "checkpoint that regenerates the region",
        run_edit,
    )
    corrupt.add_argument("--region", choices=REGIONS, default="object", help="what is made anew")
    corrupt.add_argument(
        "--span", type=float, default=0.5, help="share of the clip's frames corrupted, (0, 1]"
    )
    corrupt.add_argument(
        "--strength", type=float, default=1.0, help="noise level the region starts from, (0, 1]"
    )


def _judges_arguments(parser) -> None:
    """Which judges rank the rollouts: the shapes oracle, or on real videos VideoReward."""
    parser.add_argument(
        "--judges",
        default=",".join(ORACLE_JUDGES),
        help="comma list whose `overall` scores are averaged (default: the shapes oracle; "
        "videoreward on real videos)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="folder of judge weights")


def _pair_builder(actions, name: str, help_: str, example: str, generator_help: str, run):
    """A `pairs` action that builds a pair set from a generator's videos, with what every
    such builder takes: the new set's name, the generator, the dataset, N samples, a seed."""
    parser = actions.add_parser(
        name,
        help=help_,
        epilog=f"example:\n  workbench pairs {name} {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", required=True, help="name of the new pair set")
    parser.add_argument("--generator", required=True, help=generator_help)
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument("--n", type=int, default=None, help="first N samples (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)
    return parser


def run_export(args: argparse.Namespace) -> int:
    from workbench.battles import arena_records, export_votes, vote_rows

    store = Store(args.home)
    if args.format == "csv":
        out = args.out or store.home / "votes.csv"
        emit(args, {"votes": str(out), "rows": export_votes(store, out)})
        return 0
    out = args.out or store.home / "votes-arena.json"
    records = arena_records(vote_rows(store))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(records, indent=1))
    emit(args, {"votes": str(out), "rows": len(records)})
    return 0


def run_from_votes(args: argparse.Namespace) -> int:
    from workbench.pairsets.voted import pairs_from_votes

    emit(args, pairs_from_votes(Store(args.home), args.name, args.min_agree, args.aspect))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from workbench.pairsets.simulated import simulate_annotated_pairs

    summary = simulate_annotated_pairs(
        Store(args.home),
        args.dataset,
        args.generator,
        args.name,
        args.per_sample,
        args.noise,
        n=args.n,
        seed=args.seed,
        judges=tuple(args.judges.split(",")),
        weights=args.weights,
    )
    emit(args, summary)
    return 0


def run_mine(args: argparse.Namespace) -> int:
    from workbench.pairsets.mined import mine_pairs

    store = Store(args.home)
    summary = mine_pairs(
        store,
        args.dataset,
        args.generator,
        args.name,
        args.per_sample,
        args.gap,
        n=args.n,
        seed=args.seed,
        judges=tuple(args.judges.split(",")),
        weights=args.weights,
    )
    emit(args, summary)
    return 0


def run_edit(args: argparse.Namespace) -> int:
    """`pairs denoise` and `pairs corrupt`: the generator's edit of each real video, whole or
    in a region."""
    from workbench.pairsets.denoised import denoised_pairs

    summary = denoised_pairs(
        Store(args.home),
        args.dataset,
        args.generator,
        args.name,
        args.strength,
        args.region,
        args.span,
        n=args.n,
        seed=args.seed,
    )
    emit(args, summary)
    return 0

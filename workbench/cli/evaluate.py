"""`workbench eval` and `workbench judges`: score checkpoints into the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench.cli.output import emit
from workbench.errors import WorkbenchError
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score checkpoints' videos with judges (generates and scores only what is missing)",
        epilog="examples:\n  workbench eval --ckpt base\n"
        "  workbench eval --ckpt gt --ckpt base --ckpt regdpo --judges shapes-pf,shapes-vq\n"
        "('gt' scores the dataset's own videos)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ckpt", action="append", default=[], help="repeat to compare")
    parser.add_argument(
        "--videos",
        type=Path,
        default=None,
        help="score a folder of videos made elsewhere (with --prompts, --name)",
    )
    parser.add_argument("--prompts", type=Path, default=None, help="CSV / JSONL file -> prompt")
    parser.add_argument("--name", default=None, help="name of the external source")
    parser.add_argument(
        "--ingest-vbench",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="store the official vbench package's per-video results",
    )
    parser.add_argument(
        "--judges",
        default=None,
        help="comma list (default: shapes-pf,shapes-vq,technical,vbench; without shapes-* "
        "for other datasets)",
    )
    parser.add_argument("--dataset", default=None, help="default: shapes")
    parser.add_argument("--split", default="test", choices=("train", "test"))
    parser.add_argument("--n", type=int, default=None, help="first N samples")
    parser.add_argument("--no-generate", action="store_true", help="fail on missing videos")
    parser.add_argument("--weights", type=Path, default=None, help="folder of judge weights")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (model default)")
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0, help="sample i uses seed + i")
    parser.add_argument(
        "--nproc", type=int, default=1, help="processes under torchrun, the work shared out"
    )
    parser.set_defaults(run=run)
    judges = subparsers.add_parser(
        "judges",
        help="list judges, dimensions and availability; fetch their weights",
        epilog="examples:\n"
        "  workbench judges fetch                 # every judge's weights, checked\n"
        "  workbench judges fetch vbench-raft --from /shared/mirror   # a cluster's own copy\n"
        "  workbench judges --verify              # the files present against their sha256",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    judges.add_argument("--weights", type=Path, default=None, help=WEIGHTS_HELP)
    judges.add_argument(
        "--verify", action="store_true", help="check every weight file against its sha256"
    )
    judges.set_defaults(run=run_judges)
    actions = judges.add_subparsers(dest="judges_command", metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="download judge weights from their official sources (opt-in), checked"
    )
    fetch.add_argument("names", nargs="*", metavar="NAME", help="judges (default: every one)")
    fetch.add_argument("--weights", type=Path, default=None, help=WEIGHTS_HELP)
    fetch.add_argument(
        "--from", dest="source", default=None, help="a mirror: a folder or URL base, same layout"
    )
    fetch.set_defaults(run=run_fetch)


def run(args: argparse.Namespace) -> int:
    from evaluators.runner import default_judges, evaluate
    from evaluators.vbench import ingest_official_results
    from workbench.launch import relaunch

    if (code := relaunch(args.argv, args.nproc)) is not None:
        return code

    if not args.ckpt and args.ingest_vbench is None and args.videos is None:
        raise WorkbenchError("give --ckpt (one or more), --videos or --ingest-vbench")
    if args.videos is not None:
        from workbench.external import register_external_videos

        if args.prompts is None or not args.name:
            raise WorkbenchError("--videos needs --prompts and --name")
        source = register_external_videos(
            Store(args.home), args.videos, args.prompts, args.name, args.dataset
        )
        args.ckpt, args.dataset = [*args.ckpt, args.name], source["dataset"]
    if args.ingest_vbench is not None:
        stored = ingest_official_results(Store(args.home), args.ingest_vbench)
        emit(args, {"ingested": str(args.ingest_vbench), "scores": stored})
        if not args.ckpt:
            return 0
    dataset = args.dataset or "shapes"
    judges = args.judges.split(",") if args.judges else default_judges(Store(args.home), dataset)
    sampler = {"steps": args.steps, "guidance": args.guidance, "seed": args.seed}
    rows = evaluate(
        Store(args.home),
        args.ckpt,
        [j.strip() for j in judges],
        dataset,
        args.split,
        args.n,
        not args.no_generate,
        weights_folder(args),
        sampler=sampler,
    )
    emit(args, rows)
    return 0


WEIGHTS_HELP = "folder of judge weights (default: <home>/weights when it exists)"


def weights_folder(args: argparse.Namespace, for_writing: bool = False) -> Path | None:
    """--weights, else the home's weights folder (where `judges fetch` puts them)."""
    if args.weights is not None:
        return args.weights
    home = Store(args.home).home / "weights"
    return home if for_writing or home.is_dir() else None


def run_fetch(args: argparse.Namespace) -> int:
    from evaluators.weights import fetch, files_for, hub_files

    files, hub = files_for(args.names), hub_files(args.names, args.source)
    weights = weights_folder(args, for_writing=True)
    emit(args, fetch(weights, files, args.source) + fetch(weights, hub))
    return 0


def run_judges(args: argparse.Namespace) -> int:
    from evaluators.registry import get_judge, judge_names

    weights = weights_folder(args)
    if args.verify:
        from evaluators.weights import WEIGHT_FILES, verify

        if weights is None:
            raise WorkbenchError("no weights folder: give --weights DIR or run `judges fetch`")
        rows = verify(weights, WEIGHT_FILES)
        emit(args, rows)
        return 0 if all(r["status"] == "ok" for r in rows) else 1
    rows = []
    for name in judge_names():
        judge = get_judge(name, weights)
        dims = ", ".join(
            f"{d.name}{'' if d.higher_is_better else ' (lower better)'}" for d in judge.dimensions
        )
        rows.append(
            {
                "judge": name,
                "version": judge.version,
                "dimensions": dims,
                "available": judge.unavailable() or "yes",
            }
        )
    emit(args, rows)
    return 0

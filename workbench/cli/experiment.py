"""`workbench experiment run paper|ablation-r|annotated --preset tiny|tiny-early|smoke` and
`experiment status`: the paper's study as recorded, cached, resumable stages."""

from __future__ import annotations

import argparse

from workbench.cli.output import emit
from workbench.errors import WorkbenchError
from workbench.store import Store


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("experiment", help="the paper's study, stage by stage")
    actions = parser.add_subparsers(dest="experiment_command", required=True, metavar="ACTION")
    run_ = actions.add_parser(
        "run",
        help="world -> base -> GT-Pairs -> SFT / DPO / Reg-DPO -> judges -> report",
        epilog="examples:\n  workbench experiment run paper --preset tiny\n"
        "  workbench experiment run paper --preset smoke   # seconds, the plumbing only\n"
        "  workbench experiment run ablation-r --preset tiny   # Table 10: the weight r\n"
        "  workbench experiment run annotated --preset tiny    # Table 1: annotated vs GT-Pairs\n"
        "  workbench experiment run recipe --preset tiny-early --seeds 3  # dropout x guidance\n"
        "A rerun skips finished stages; a killed run continues where it stopped.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_.add_argument("study", help="paper | ablation-r | annotated | recipe")
    run_.add_argument("--preset", default="tiny", help="tiny | tiny-early | smoke")
    run_.add_argument("--seeds", type=int, default=1, help="fine-tunes per method, seeds 0..N-1")
    run_.add_argument(
        "--retrain-base", action="store_true", help="train the base instead of the shipped one"
    )
    run_.set_defaults(run=run)
    status = actions.add_parser("status", help="the stages of a study, their status and times")
    status.add_argument(
        "study", nargs="?", default="paper", help="paper | ablation-r | annotated | recipe"
    )
    status.set_defaults(run=run_status)


def run(args: argparse.Namespace) -> int:
    from workbench.errors import unknown_name
    from workbench.experiments import (
        PLANS,
        WHOLE,
        Stage,
        record_stage,
        recorded_commands,
        stage_status,
        study_lock,
    )

    if args.study not in PLANS:
        raise unknown_name("study", args.study, PLANS)
    store = Store(args.home)
    votes = {}
    if args.study == "annotated":  # annotated pairs from votes when people gave enough
        from workbench.battles import agreed_pairs

        votes["voted_pairs"] = len(agreed_pairs(store, "annotated"))
    plan = PLANS[args.study](args.preset, args.seeds, args.retrain_base, **votes)
    recorded = recorded_commands(store, args.study)
    for stage in plan:
        if recorded.get(stage.name, stage.command) != stage.command:
            raise WorkbenchError(
                f"this home's {args.study!r} study ran stage {stage.name!r} with other settings; "
                "use a fresh --home for another preset"
            )
    whole = Stage(
        WHOLE,
        ["experiment", "run", args.study, "--preset", args.preset, "--seeds", str(args.seeds)],
    )
    with study_lock(store):
        record_stage(store, args.study, whole, "running")
        _run_plan(store, args.study, plan)
        record_stage(store, args.study, whole, "done")
    emit(args, stage_status(store, args.study))
    return 0


def _run_plan(store: Store, study: str, plan) -> None:
    from workbench.cli import main
    from workbench.experiments import record_stage, stage_status

    done = {r["stage"] for r in stage_status(store, study) if r["status"] == "done"}
    for i, stage in enumerate(plan, start=1):
        if stage.name in done or _created(store, stage):
            if stage.name not in done:  # killed after its work landed, before its record
                record_stage(store, study, stage, "done")
            continue
        print(f"[{i}/{len(plan)}] {stage.name}: workbench {' '.join(stage.command)}", flush=True)
        record_stage(store, study, stage, "running")
        resume = ["--resume"] if _unfinished_training(store, stage) else []
        if main(["--home", str(store.home), *stage.command, *resume]) != 0:
            record_stage(store, study, stage, "failed", "see the error above")
            raise WorkbenchError(f"stage {stage.name!r} failed; fix it and rerun to continue")
        record_stage(store, study, stage, "done")


def run_status(args: argparse.Namespace) -> int:
    from workbench.experiments import stage_status

    rows = stage_status(Store(args.home), args.study)
    if not rows:
        raise WorkbenchError(
            f"no {args.study!r} study in this home; run `workbench experiment run`"
        )
    emit(args, rows)
    return 0


def _created(store: Store, stage) -> bool:
    if stage.creates is None:
        return False
    kind, name = stage.creates
    if kind == "pairset":
        return store.pairset_exists(name)
    return bool(store.query("SELECT 1 FROM checkpoints WHERE name = ?", [name]))


def _unfinished_training(store: Store, stage) -> bool:
    """A training stage whose run left resumable state (it was killed)."""
    from workbench.atomic import existing_version
    from workbench.checkpoints import checkpoint_dir

    if stage.command[0] != "train":
        return False
    return existing_version(checkpoint_dir(store, stage.creates[1])) is not None

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
        "  workbench experiment run pair-sources --preset tiny-early --seeds 3  # W17\n"
        "A rerun skips finished stages; a killed run continues where it stopped.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_.add_argument("study", help="paper | ablation-r | annotated | recipe | pair-sources")
    run_.add_argument("--preset", default="tiny", help="tiny | tiny-early | smoke")
    run_.add_argument("--seeds", type=int, default=1, help="fine-tunes per method, seeds 0..N-1")
    run_.add_argument(
        "--retrain-base", action="store_true", help="train the base instead of the shipped one"
    )
    run_.set_defaults(run=run)
    status = actions.add_parser("status", help="the stages of a study, their status and times")
    status.add_argument(
        "study",
        nargs="?",
        default="paper",
        help="paper | ablation-r | annotated | recipe | pair-sources",
    )
    status.set_defaults(run=run_status)


def run(args: argparse.Namespace) -> int:
    from workbench.cli import main
    from workbench.experiments import run_study

    store = Store(args.home)

    def execute(command: list[str]) -> int:
        return main(["--home", str(store.home), *command])

    status = run_study(store, args.study, args.preset, args.seeds, args.retrain_base, execute)
    emit(args, status)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from workbench.experiments import stage_status

    rows = stage_status(Store(args.home), args.study)
    if not rows:
        raise WorkbenchError(
            f"no {args.study!r} study in this home; run `workbench experiment run`"
        )
    emit(args, rows)
    return 0

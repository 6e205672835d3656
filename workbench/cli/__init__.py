"""The `workbench` command line: one module per subcommand, each with add_parser and run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.allocator import keep_freed_memory
from workbench.cli import (
    bench,
    checkpoints,
    data,
    env,
    evaluate,
    experiment,
    generate,
    gtpair,
    report,
    train,
    vbench,
    votes,
    world,
)
from workbench.errors import WorkbenchError
from workbench.launch import report_error, report_worker_crash
from workbench.store import default_home

COMMANDS = (
    world,
    data,
    gtpair,
    train,
    generate,
    evaluate,
    vbench,
    report,
    experiment,
    votes,
    checkpoints,
    bench,
    env,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Reg-DPO Workbench: GT-Pair data, preference training, judges and votes.",
        epilog="example: workbench world make --n 64 && workbench data list",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="folder holding the DuckDB store and media (env WORKBENCH_HOME; "
        f"default {default_home()})",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # a command may run itself again (train --nproc under torchrun)
    keep_freed_memory()
    try:
        return args.run(args) or 0
    except WorkbenchError as exc:
        report_error(str(exc))
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: its traceback, once (a worker's goes to the launcher)
        if not report_worker_crash(exc):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())

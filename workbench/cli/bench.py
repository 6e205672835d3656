"""`workbench bench`: measured costs, printed as JSON (never asserted in tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.errors import WorkbenchError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: baseline and default side by side in one process, JSON out",
        epilog="examples:\n"
        "  workbench bench memory        # a small Wan-shaped model on this machine (CPU: 2 min)\n"
        "  workbench bench memory --arch 1.3b --size 480x832 --frames 5,17,33,49,81 "
        "--budget-mb 80000   # on a GPU",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    benches = parser.add_subparsers(dest="bench", required=True, metavar="BENCH")
    memory = benches.add_parser(
        "memory", help="peak memory and time of a Reg-DPO step against frames per video"
    )
    memory.add_argument(
        "--arch",
        default="small",
        choices=("tiny", "small", "1.3b"),
        help="random-weight Wan2.1 architecture (1.3b: the real sizes)",
    )
    memory.add_argument("--task", default="t2v", choices=("t2v", "i2v"))
    memory.add_argument("--size", default="128x128", help="HxW, multiples of 16")
    memory.add_argument("--frames", default="5,9,17,33,49", help="comma list of 4k+1 counts")
    memory.add_argument("--settings", default="naive,default")
    memory.add_argument("--budget-mb", type=float, default=800.0)
    memory.add_argument("--repeats", type=int, default=3, help="timed steps after a warm-up")
    memory.add_argument("--batch", type=int, default=1, help="pairs per step")
    memory.add_argument(
        "--max-step-s",
        type=float,
        default=120.0,
        help="stop growing a setting once a step takes longer",
    )
    memory.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    memory.set_defaults(run=run_memory)


def run_memory(args: argparse.Namespace) -> int:
    from workbench.bench.memory import SETTINGS, bench_memory

    try:
        height, width = (int(x) for x in args.size.lower().split("x"))
        frames = [int(f) for f in args.frames.split(",")]
    except ValueError:
        raise WorkbenchError(
            f"--size HxW and --frames a,b,c, got {args.size!r} {args.frames!r}"
        ) from None
    settings = args.settings.split(",")
    if unknown := [s for s in settings if s not in SETTINGS]:
        raise WorkbenchError(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}")
    if any(f < 1 or (f - 1) % 4 for f in frames) or height % 16 or width % 16:
        raise WorkbenchError("Wan2.1 needs 4k+1 frames and sides divisible by 16")
    if args.repeats < 0 or args.batch < 1:
        raise WorkbenchError("--repeats must be >= 0 and --batch >= 1")
    result = bench_memory(
        args.arch,
        args.task,
        height,
        width,
        frames,
        settings,
        args.budget_mb,
        args.repeats,
        args.batch,
        args.max_step_s,
    )
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0

"""`workbench bench`: measured costs, printed as JSON (never asserted in tests)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from workbench.errors import WorkbenchError

ARCHS = ("tiny", "small", "1.3b")  # workbench.models.random_wan.SIZES (imported lazily)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: baseline and default side by side in one process, JSON out",
        epilog="examples:\n"
        "  workbench bench memory        # a small Wan-shaped model on this machine (CPU: 2 min)\n"
        "  workbench bench memory --arch 1.3b --size 480x832 --frames 5,17,33,49,81 "
        "--budget-mb 80000   # on a GPU\n"
        "  workbench bench memory --nproc 2   # FSDP2 alone against the full stack, 2 processes\n"
        "  workbench bench memory --nproc 2 --build --arch 1.3b   # each rank's cost of loading",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    benches = parser.add_subparsers(dest="bench", required=True, metavar="BENCH")
    memory = _bench(
        benches,
        "memory",
        run_memory,
        "peak memory and time of a Reg-DPO step against frames per video",
    )
    memory.add_argument(
        "--arch",
        default="small",
        choices=ARCHS,
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
        "--nproc",
        type=int,
        default=1,
        help="N > 1: largest frames within the per-rank budget, FSDP2 alone against the full "
        "stack (context parallel over the N), searched instead of --frames / --settings",
    )
    memory.add_argument("--max-frames", type=int, default=257, help="with --nproc: search cap")
    memory.add_argument(
        "--build",
        action="store_true",
        help="with --nproc: each rank's memory to build a sharded full fine-tune and its "
        "reference, loaded whole then sharded against built on meta and loaded after",
    )
    memory.add_argument(
        "--attention", default="auto", help="attention backend of every setting (train's)"
    )
    memory.add_argument(
        "--flops", action="store_true", help="count each step's model FLOPs (one more step)"
    )
    memory.add_argument(
        "--max-step-s",
        type=float,
        default=120.0,
        help="stop growing a setting once a step takes longer",
    )

    step = _bench(
        benches,
        "train-step",
        run_train_step,
        "pairs per second of a Reg-DPO step: naive against the default",
    )
    step.add_argument("--batch", type=int, default=8, help="pairs per step")
    step.add_argument("--repeats", type=int, default=20, help="timed steps after a warm-up")
    step.add_argument("--matmul-size", type=int, default=1024)
    step.add_argument("--no-compile", action="store_true", help="skip the compiled path")

    sample = _bench(
        benches,
        "sample",
        run_sample,
        "videos per second: the workbench sampler against diffusers' WanPipeline",
    )
    sample.add_argument("--arch", default="small", choices=ARCHS)
    sample.add_argument("--size", default="64x64", help="HxW, multiples of 16")
    sample.add_argument("--frames", type=int, default=9, help="4k+1")
    sample.add_argument("--steps", type=int, default=10)
    sample.add_argument("--batch", type=int, default=4, help="videos per call")
    sample.add_argument("--repeats", type=int, default=3)

    evaluation = _bench(
        benches,
        "eval",
        run_eval,
        "videos per second per judge, and re-running eval on an unchanged ckpt",
    )
    evaluation.add_argument("--n", type=int, default=16, help="test videos")
    evaluation.add_argument("--judges", default=None, help="comma list (default: eval's)")
    evaluation.add_argument("--weights", type=Path, default=None, help="folder of judge weights")


def _bench(benches, name: str, run, help_: str) -> argparse.ArgumentParser:
    """A benchmark's subcommand, with what every one has: `--out` and its runner."""
    parser = benches.add_parser(name, help=help_)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.set_defaults(run=run)
    return parser


def run_memory(args: argparse.Namespace) -> int:
    from benchmarks.memory import SETTINGS, bench_memory

    height, width = _size(args.size)
    try:
        frames = [int(f) for f in args.frames.split(",")]
    except ValueError:
        raise WorkbenchError(f"--frames must be a comma list, got {args.frames!r}") from None
    settings = args.settings.split(",")
    if unknown := [s for s in settings if s not in SETTINGS]:
        raise WorkbenchError(f"unknown settings {unknown}; choose from {', '.join(SETTINGS)}")
    if any(f < 1 or (f - 1) % 4 for f in frames):
        raise WorkbenchError("Wan2.1 needs 4k+1 frames")
    if args.repeats < 0 or args.batch < 1:
        raise WorkbenchError("--repeats must be >= 0 and --batch >= 1")
    if args.nproc < 1:
        raise WorkbenchError("--nproc must be >= 1")
    if args.build:
        if args.nproc < 2:
            raise WorkbenchError("--build compares sharded builds: give --nproc 2 or more")
        from benchmarks.memory_build import bench_memory_build

        _emit(args, bench_memory_build(args.nproc, args.arch))
        return 0
    if args.nproc > 1:
        from benchmarks.memory_parallel import bench_memory_parallel

        result = bench_memory_parallel(
            args.nproc,
            args.arch,
            args.task,
            height,
            width,
            args.budget_mb,
            args.max_frames,
            args.batch,
            args.max_step_s,
        )
        _emit(args, result)
        return 0
    _emit(
        args,
        bench_memory(
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
            args.attention,
            args.flops,
        ),
    )
    return 0


def run_train_step(args: argparse.Namespace) -> int:
    from benchmarks.train_step import bench_train_step

    if args.batch < 1 or args.repeats < 1 or args.matmul_size < 1:
        raise WorkbenchError("--batch, --repeats and --matmul-size must be >= 1")
    _emit(
        args,
        bench_train_step(
            args.batch, args.repeats, matmul_size=args.matmul_size, compiled=not args.no_compile
        ),
    )
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from benchmarks.sample import bench_sample

    height, width = _size(args.size)
    if (args.frames - 1) % 4 or args.frames < 1 or min(args.steps, args.batch, args.repeats) < 1:
        raise WorkbenchError("--frames must be 4k+1; --steps, --batch, --repeats >= 1")
    _emit(
        args,
        bench_sample(args.arch, height, width, args.frames, args.steps, args.batch, args.repeats),
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from benchmarks.evaluation import bench_eval

    if args.n < 1:
        raise WorkbenchError("--n must be >= 1")
    judges = args.judges.split(",") if args.judges else None
    _emit(args, bench_eval(args.n, judges, args.weights))
    return 0


def _size(text: str) -> tuple[int, int]:
    try:
        height, width = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise WorkbenchError(f"--size must be HxW, got {text!r}") from None
    if height % 16 or width % 16:
        raise WorkbenchError("Wan2.1 needs sides divisible by 16")
    return height, width


def _emit(args: argparse.Namespace, result: dict) -> None:
    """The result, headed by what made it (the command, code version, date and machine)."""
    from workbench.provenance import made_by

    command = "workbench " + " ".join(a for a in args.argv if a != "--json")
    result = {"provenance": made_by(command), **result}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)

"""`workbench train`: SFT (and, later, preference) training into a registered checkpoint."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from workbench.cli.output import emit
from workbench.errors import WorkbenchError
from workbench.store import Store

if TYPE_CHECKING:  # torch-heavy: the command line imports it only to train
    from training.config import TrainConfig


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a checkpoint (sft; pretrains the embedded base from scratch with --init tiny)",
        epilog="examples:\n"
        "  workbench train --method sft --dataset shapes --init tiny --name base --steps 1500\n"
        "  workbench train --method sft --dataset shapes --init base --name sft --steps 200\n"
        "  workbench train ... --resume      # continue an interrupted run exactly\n"
        "  workbench train --method regdpo --pairs gt-shapes --init base --name r \\\n"
        "      --nproc 4 --cp 2 --pair-parallel fused   # 4 processes under torchrun",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--name", required=True, help="name of the checkpoint to create")
    parser.add_argument("--method", default="sft", help="sft | dpo | regdpo")
    parser.add_argument("--pairs", default=None, help="pair set (dpo, regdpo; sft: winners)")
    parser.add_argument("--beta", type=float, default=500.0, help="DPO temperature")
    parser.add_argument("--r", default="dgr", help="Reg-DPO SFT weight: 'dgr' or a number")
    parser.add_argument("--r-scale", type=float, default=1.0, help="r = r_scale * DGR")
    parser.add_argument("--reference", default="auto", help="auto | lora | copy | cached")
    parser.add_argument("--ref-ckpt", default=None, help="frozen reference checkpoint")
    parser.add_argument(
        "--max-bad-steps", type=int, default=5, help="stop after N non-finite steps in a row"
    )
    parser.add_argument("--dataset", default="shapes")
    parser.add_argument(
        "--init", default="tiny", help="checkpoint name or model folder; 'tiny' = new model"
    )
    parser.add_argument("--task", default="t2v", choices=("t2v", "i2v"), help="with --init tiny")
    parser.add_argument("--tiny-patch", default="2,4,4", help="with --init tiny: patch t,h,w")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--grad-accum", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--schedule", default="constant", choices=("constant", "cosine"))
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--timesteps", default="logit-normal", choices=("uniform", "logit-normal"))
    parser.add_argument("--t-shift", type=float, default=1.0, help="Wan-style timestep shift")
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--lora-alpha", type=float, default=32.0)
    parser.add_argument(
        "--prompt-dropout",
        type=float,
        default=None,
        help="share of prompts replaced by '' (default 0.1 sft, 0 dpo/regdpo)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "bf16"),
        help="auto: bf16 (frozen weights, autocast) on CUDA, fp32 on CPU",
    )
    parser.add_argument(
        "--attention",
        default="auto",
        help="a diffusers attention backend (native, flash, _native_flash, sage, ...; the run "
        "records the one used); auto: flash-attn on CUDA where installed, else torch's SDPA",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile each transformer block: faster steps after a one-off compile "
        "(pays on long runs: workbench bench train-step says after how many steps)",
    )
    memory = parser.add_argument_group("memory (no effect on the numbers)")
    memory.add_argument(
        "--activation-checkpointing",
        action="store_true",
        help="recompute each transformer block in the backward pass",
    )
    memory.add_argument(
        "--offload", action="store_true", help="encoders on the CPU except while they work"
    )
    memory.add_argument(
        "--cache-ram-mb",
        type=float,
        default=4096,
        help="latents kept in RAM; the rest read from the on-disk cache",
    )
    parallel = parser.add_argument_group(
        "several processes (torchrun; FSDP2 shards the weights over all of them)"
    )
    parallel.add_argument("--nproc", type=int, default=1, help="processes (one per device)")
    parallel.add_argument(
        "--dp-shard", type=int, default=None, help="data-parallel groups (default: what is left)"
    )
    parallel.add_argument("--cp", type=int, default=1, help="context parallel (Ulysses) degree")
    parallel.add_argument(
        "--pair-parallel",
        default="fused",
        choices=("fused", "split", "sequential"),
        help="winner and loser in one forward, on two rank groups, or one after the other",
    )
    parallel.add_argument(
        "--keep-shards",
        action="store_true",
        help="keep the sharded run's DCP shards (optimizer state) in the finished checkpoint",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--log-every", type=int, default=10, help="steps between metric flushes")
    parser.add_argument(
        "--report-to",
        default="none",
        choices=("none", "tensorboard", "wandb"),
        help="also send the metrics to <home>/logs/tensorboard or wandb (offline); the store "
        "keeps them either way",
    )
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run NAME")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:

    from training.parallel import ParallelPlan
    from training.trainer import check_plan, train
    from workbench.launch import is_main, launched_rank, torchrun

    cfg = train_config(args)
    if args.cache_ram_mb < 0:
        raise WorkbenchError("--cache-ram-mb must be >= 0")
    plan = ParallelPlan(args.nproc, args.dp_shard, args.cp, args.pair_parallel)
    check_plan(cfg, plan, args.compile)
    if plan.nproc > 1 and launched_rank() is None:
        return torchrun(args.argv, plan.nproc)
    ref = train(
        Store(args.home),
        cfg,
        args.name,
        resume=args.resume,
        offload=args.offload,
        activation_checkpointing=args.activation_checkpointing,
        ram_bytes=int(args.cache_ram_mb * 2**20),
        plan=plan,
        compile_blocks=args.compile,
        keep_shards=args.keep_shards,
        report_to=args.report_to,
    )
    if not is_main():  # one answer per run
        return 0
    emit(
        args,
        {
            "checkpoint": ref.name,
            "path": str(ref.path),
            "method": ref.method,
            "task": ref.task,
            "parent": ref.parent,
        },
    )
    return 0


NOT_FLAGS = ("weight_decay", "t_mean", "t_std", "lora_targets")
"""TrainConfig fields the command line leaves at their defaults (Wan's and the paper's)."""


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The one config a run is: TrainConfig from the flags, whose defaults are TrainConfig's
    (tests/test_cli.py checks both ways, so a default is never declared twice apart).

    Raises:
        WorkbenchError: a value TrainConfig refuses.
    """
    from training.config import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)} - {"r", "lora", "tiny_patch"}
    try:
        return TrainConfig(
            **{k: v for k, v in vars(args).items() if k in names},
            r=None if args.r == "dgr" else float(args.r),
            lora=not args.full,
            tiny_patch=_patch(args.tiny_patch),
        )
    except ValueError as exc:
        raise WorkbenchError(f"bad training config: {exc}") from exc


def _patch(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise WorkbenchError(f"--tiny-patch must be three positive integers t,h,w, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]

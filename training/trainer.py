"""The training loop: one model, one objective, exact resume, metrics into the store."""

from __future__ import annotations

import contextlib
import functools
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from training.cache import cache_key, load_reference_table, save_reference_table
from training.config import TrainConfig
from training.data import DEFAULT_RAM_BYTES, TrainingSet, batch_draws, load_clips, load_pairs
from training.objectives import pair_inputs, preference_objective, sft_objective
from training.parallel import (
    Parallel,
    ParallelPlan,
    init_parallel,
    load_into_shards,
    parallelize,
)
from training.parallel.context import check_tokens
from training.parallel.pair import exchange_sides, pair_passes
from training.parallel.sharded_state import (
    SHARDS,
    load_sharded_checkpoint,
    save_sharded_checkpoint,
)
from training.reference import (
    CachedReference,
    FrozenReference,
    ReferenceFn,
    lora_disabled_reference,
)
from training.resume_state import (
    STATE_FILE,
    load_training_state,
    restore_weights,
    save_training_checkpoint,
)
from training.run_record import RunRecord
from training.timesteps import sample_timesteps
from training.trackers import open_tracker, require_tracker
from training.transforms import apply_ac, apply_attention, apply_compile
from workbench.atomic import existing_version
from workbench.checkpoint_registry import (
    CheckpointRef,
    checkpoint_dir,
    checkpoint_exists,
    resolve_checkpoint,
)
from workbench.datasets import get_dataset
from workbench.errors import WorkbenchError
from workbench.launch import launched_rank, local_device
from workbench.models.loading import (
    apply_lora,
    load_model,
    load_transformer,
    trainable_parameters,
    transformer_folder,
)
from workbench.models.runtime import Runtime, pick_runtime
from workbench.models.tiny import TinyWanConfig, build_tiny_wan
from workbench.models.wan import WanVideoModel
from workbench.store import Store
from workbench.world import shapes


def build_model(
    store: Store, cfg: TrainConfig, runtime: Runtime, sharded: bool = False
) -> tuple[WanVideoModel, CheckpointRef | None, Path | None]:
    """The model to train, the checkpoint it came from (None when built from scratch), and
    where its transformer's weights load from after sharding (None: loaded now). Under LoRA
    the base weights load in the runtime's frozen dtype (bf16 on CUDA); a `sharded` full
    fine-tune builds its transformer on the meta device (`load_into_shards` fills it)."""
    if cfg.init == "tiny":
        spec = get_dataset(store, cfg.dataset)
        tiny = TinyWanConfig(patch_size=tuple(cfg.tiny_patch))
        words = shapes.vocabulary()
        model = build_tiny_wan(
            tiny, cfg.task, spec.frames, spec.height, spec.width, spec.fps, words, cfg.seed
        )
        return model, None, None
    parent = resolve_checkpoint(store, cfg.init)  # refuses non-finite weights
    if cfg.trains_lora:
        return load_model(parent.path, runtime.frozen_dtype), parent, None
    later = transformer_folder(parent.path) if sharded else None
    return load_model(parent.path, torch.float32, later is not None), parent, later


def make_trainable(model: WanVideoModel, cfg: TrainConfig, runtime: Runtime) -> None:
    """Trainable weights in fp32 (the optimiser's master copy); a LoRA base stays frozen in
    the runtime's frozen dtype."""
    if cfg.trains_lora:
        runtime.freeze(model.transformer)
        apply_lora(
            model.transformer, cfg.lora_rank, cfg.lora_alpha, list(cfg.lora_targets), cfg.seed
        )
        for param in trainable_parameters(model.transformer):
            param.data = param.data.float()
    else:
        model.transformer.float().requires_grad_(True)
    # A model built from scratch learns its tiny text encoder too (a frozen random one carries
    # too little of the prompt); afterwards it stays frozen, as a pretrained UMT5 does.
    model.prompts.set_trainable(cfg.init == "tiny")


LiveReference = tuple[ReferenceFn, "CheckpointRef | None", str]
"""A reference that runs a network, what network (for the shared cache's key) and how."""


def live_reference(
    store: Store,
    cfg: TrainConfig,
    model: WanVideoModel,
    runtime: Runtime,
    parent: CheckpointRef | None,
    on_device: bool = True,
) -> LiveReference | None:
    """The DPO reference, built before any weight changes (a copy is of the start) and
    before sharding (a copy is taken of the plain module; `on_device` False: a reference
    checkpoint stays off the device until its shards move)."""
    if cfg.method == "sft":
        return None
    if cfg.ref_ckpt:
        other_ref = resolve_checkpoint(store, cfg.ref_ckpt)
        other = load_transformer(other_ref.path, runtime.frozen_dtype)
        other = other.to(runtime.device) if on_device else other
        return FrozenReference(model, runtime, other), other_ref, "copy"
    if cfg.trains_lora and cfg.reference_kind in ("lora", "cached"):
        return lora_disabled_reference(model), parent, "lora"
    return FrozenReference(model, runtime), parent, "copy"


def build_reference(
    store: Store,
    cfg: TrainConfig,
    model: WanVideoModel,
    data: TrainingSet,
    runtime: Runtime,
    live: LiveReference | None,
    cached: dict[tuple[int, int], tuple[float, float]] | None = None,
    par: Parallel | None = None,
    numerics: dict[str, Any] | None = None,
) -> ReferenceFn | None:
    """The reference the steps use: the live one, or a `cached` reference's table.

    `cached`: the table saved with the run (a resume reuses it). Otherwise a `cached`
    reference starts from the shared table of earlier runs with the same reference, items,
    draws and `numerics` (the run's layout, compile state and attention backend;
    `reference_key`), computes only what is missing, and (one process of a run) adds it.
    Every process starts from the table rank 0 read."""
    if cached is not None:
        return CachedReference(cached)
    if live is None or cfg.reference_kind != "cached":
        return None if live is None else live[0]
    base, network, kind = live
    key = reference_key(cfg, data, runtime, network, kind, numerics or {})
    main = par is None or par.is_main
    known = load_reference_table(store, key) if key is not None and main else {}
    if par is not None:
        known = par.from_main(known)
    table = precompute_reference(model, data, cfg, base, runtime, known)
    if main and key is not None and len(table) > len(known):
        save_reference_table(store, key, table)
    return CachedReference(table)


REFERENCE_KEY_VERSION = 2
"""Raise when the draws, timesteps or error code change what a cached table holds."""


def reference_key(
    cfg: TrainConfig,
    data: TrainingSet,
    runtime: Runtime,
    network: CheckpointRef | None,
    kind: str,
    numerics: dict[str, Any],
) -> str | None:
    """What a reference error depends on: the reference's weights and how they run (kind,
    precision, device and its model, the library versions, and `numerics`: the parallel
    layout, compiled or eager, the attention backend), the items, and how they are drawn
    (batch size too: batching moves the last bits)."""
    import diffusers

    from workbench.provenance import machine

    if network is None:  # a model built from scratch: nothing to share
        return None
    device_model = (
        torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda" else machine()
    )
    payload = [
        REFERENCE_KEY_VERSION,
        network.fingerprint,
        kind,
        runtime.precision,
        runtime.device.type,
        device_model,
        numerics,
        torch.__version__,
        diffusers.__version__,
        data.fingerprint,
        cfg.seed,
        cfg.batch_size,
        cfg.timesteps,
        cfg.t_mean,
        cfg.t_std,
        cfg.t_shift,
        cfg.dropout,
    ]
    return cache_key(payload, 24)


def precompute_reference(
    model: WanVideoModel,
    data: TrainingSet,
    cfg: TrainConfig,
    base: ReferenceFn,
    runtime: Runtime,
    known: dict[tuple[int, int], tuple[float, float]] | None = None,
) -> dict[tuple[int, int], tuple[float, float]]:
    """Reference errors for every (item, epoch) the run will draw, under the autocast the
    training steps use (bf16 against fp32 would make s != 0 at theta = ref); batches whose
    errors are all `known` are skipped."""
    table = dict(known or {})
    total = cfg.steps * cfg.grad_accum * cfg.batch_size
    for position in tqdm(range(0, total, cfg.batch_size), desc="reference errors", leave=False):
        draws = batch_draws(data, position, cfg.batch_size, cfg.seed, _t_sampler(cfg), cfg.dropout)
        if all(key in table for key in zip(draws.items, draws.epochs, strict=True)):
            continue
        cond = _condition(model, data, draws)
        x_t, t2, cond2, target = pair_inputs(data, draws, cond, runtime.device)
        with runtime.autocast():
            err_w, err_l = base(x_t, t2, cond2, target).float().cpu().chunk(2)
        for k, key in enumerate(zip(draws.items, draws.epochs, strict=True)):
            table[key] = (float(err_w[k]), float(err_l[k]))
    return table


def lr_lambda(cfg: TrainConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup:
            return (step + 1) / cfg.warmup
        if cfg.schedule == "cosine":
            progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
            return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return 1.0

    return factor


@dataclass
class Training:
    """What a run's steps use, assembled by `build_training`."""

    model: WanVideoModel
    data: TrainingSet
    reference: ReferenceFn | None
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    runtime: Runtime
    par: Parallel | None
    parent: CheckpointRef | None
    out: Path
    state: dict[str, Any] | None
    """The checkpoint state a resume starts from (None: a fresh run)."""
    attention: str

    @property
    def main(self) -> bool:
        return self.par is None or self.par.is_main

    def step(self, cfg: TrainConfig, step: int, pair: str) -> dict[str, float]:
        """One optimiser step (`train_step`) and the schedule after it."""
        stats = train_step(
            self.model,
            self.data,
            cfg,
            self.optimizer,
            self.params,
            step,
            self.runtime,
            self.reference,
            self.par,
            pair,
        )
        stats["lr"] = self.scheduler.get_last_lr()[0]
        if not stats["skipped"]:
            self.scheduler.step()
        return stats


def train(
    store: Store,
    cfg: TrainConfig,
    name: str,
    resume: bool = False,
    progress: bool = True,
    offload: bool = False,
    activation_checkpointing: bool = False,
    ram_bytes: int = DEFAULT_RAM_BYTES,
    plan: ParallelPlan | None = None,
    compile_blocks: bool = False,
    keep_shards: bool = False,
    report_to: str = "none",
) -> CheckpointRef:
    """Train to `cfg.steps` and register the checkpoint `name`. `offload`,
    `activation_checkpointing` and `ram_bytes` (latents held in memory) trade speed for
    memory, never the numbers; `plan`: several processes under torchrun, one process's
    numbers up to rounding; `compile_blocks`: `apply_compile` (one process); `keep_shards`:
    keep a sharded run's DCP shards (optimiser state) in the finished checkpoint;
    `report_to`: also send the metrics to tensorboard or wandb (`training.trackers`).

    Raises:
        WorkbenchError: the name is taken, a run to resume is missing or differs, bad data,
            a layout that does not fit, too many non-finite steps in a row.
    """
    plan = plan or ParallelPlan()
    require_tracker(report_to)
    how = (resume, offload, activation_checkpointing, ram_bytes, plan, compile_blocks)
    t = build_training(store, cfg, name, *how)
    record = _record(store, cfg, name, plan, t, report_to)
    start = 0 if t.state is None else t.state["step"]
    bad_in_a_row = (t.state or {}).get("bad_in_a_row", 0)
    quiet = not (progress and t.main)
    bar = tqdm(range(start, cfg.steps), f"train {name}", cfg.steps, initial=start, disable=quiet)
    try:
        for step in bar:
            stats = t.step(cfg, step, plan.pair)
            done = step + 1
            bar.set_postfix(loss=f"{stats['loss']:.4f}")
            bad_in_a_row = bad_in_a_row + 1 if stats["skipped"] else 0
            checkpoint = done % cfg.checkpoint_every == 0 or done == cfg.steps
            record.log(done, stats, flush=checkpoint)
            if bad_in_a_row >= cfg.max_bad_steps:
                raise WorkbenchError(
                    f"stopped at step {done}: {bad_in_a_row} non-finite steps in a row (loss or "
                    f"gradient); the last finite checkpoint stays in {t.out} (--resume)"
                )
            if checkpoint:
                _save_checkpoint(t, cfg, done, record.run_id, bad_in_a_row)
    except Exception as exc:  # the run's record says why it stopped (a peer's failure too)
        record.fail(str(exc))
        raise
    if t.main:
        _register(t, record, cfg, name, keep_shards)
    if t.par is not None:
        t.par.barrier()
    return resolve_checkpoint(store, name)


def build_training(
    store: Store,
    cfg: TrainConfig,
    name: str,
    resume: bool,
    offload: bool,
    activation_checkpointing: bool,
    ram_bytes: int,
    plan: ParallelPlan,
    compile_blocks: bool,
) -> Training:
    """Model, data, reference and parallelism in torchtitan's order: the mesh, the plain
    model (off the device when sharded), attention, trainable parts, activation checkpointing,
    the data, the reference (a copy of the start), context parallel and FSDP2, compile, the
    reference's table, the optimiser; a resume restores its state last."""
    par = _join(cfg, plan, compile_blocks)
    out = checkpoint_dir(store, name)
    state = _previous_state(store, cfg, name, out, resume, sharded=par is not None)
    runtime = pick_runtime(cfg.precision, offload)
    model, parent, weights = build_model(store, cfg, runtime, sharded=par is not None)
    attention = apply_attention(model.transformer, cfg.attention, runtime.device)
    make_trainable(model, cfg, runtime)
    # Sharded: each rank's shards alone reach its device, as `fully_shard` moves them (a
    # whole 14B model in fp32 would not fit on one GPU first).
    model.place(runtime, transformer=par is None)
    if activation_checkpointing:
        apply_ac(model.transformer)
    data = _data(store, cfg, model, ram_bytes, par)
    saved_table = (state or {}).get("reference_errors")
    live = None
    if saved_table is None:
        live = live_reference(store, cfg, model, runtime, parent, on_device=par is None)
    copy = live[0].network if live is not None and isinstance(live[0], FrozenReference) else None
    networks = [n for n in (model.transformer, copy) if n is not None]
    if copy is not None:
        apply_attention(copy, attention, runtime.device)
    if par is not None:
        check_tokens(model.transformer, tuple(data.winners.shape[1:]), plan.cp)
    _shard_and_compile(networks, par, runtime, weights, compile_blocks)
    numerics = {"layout": plan.to_dict(), "compiled": compile_blocks, "attention": attention}
    reference = build_reference(store, cfg, model, data, runtime, live, saved_table, par, numerics)
    model.transformer.train()
    params = [
        *trainable_parameters(model.transformer),
        *trainable_parameters(model.prompts.text_encoder),
    ]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    if state is not None:
        _restore(state, model, optimizer, scheduler, par)
    parts = (model, data, reference, params, optimizer, scheduler, runtime, par, parent, out)
    return Training(*parts, state, attention)


def _data(
    store: Store, cfg: TrainConfig, model: WanVideoModel, ram_bytes: int, par: Parallel | None
) -> TrainingSet:
    """The run's pairs or clips, encoded once (rank 0 first: the others then find every
    latent in the cache), and every prompt's embedding before the loop."""
    with _main_first(par):
        if cfg.pairs:
            data = load_pairs(store, model, cfg.pairs, ram_bytes)
        else:
            data = load_clips(store, model, cfg.dataset, ram_bytes=ram_bytes)
    if not model.prompts.trainable:
        model.prompts.encode([*data.prompts, ""])
    return data


def _shard_and_compile(
    networks: list[torch.nn.Module],
    par: Parallel | None,
    runtime: Runtime,
    weights: Path | None,
    compile_blocks: bool,
) -> None:
    """Context parallel and FSDP2 over the run's mesh; a network built on meta (the model,
    and the frozen copy of it) then gets the start's weights, each rank its shards; compiled
    blocks last, before the reference's table, so both run the same compiled graph."""
    if par is not None:
        for network in networks:
            parallelize(network, par, runtime)
            if weights is not None and any(p.is_meta for p in network.parameters()):
                load_into_shards(network, weights, runtime.device)
    if compile_blocks:
        for network in networks:
            apply_compile(network)


def _join(cfg: TrainConfig, plan: ParallelPlan, compile_blocks: bool) -> Parallel | None:
    """This process's place in the run's mesh (None: one process). A process torchrun
    started joins a group even alone: one NCCL rank on one GPU runs every collective and
    the sharded checkpoints of a many-GPU run (scripts/gpu_check.sh)."""
    check_plan(cfg, plan, compile_blocks)
    if plan.nproc > 1 and launched_rank() is None:
        raise WorkbenchError(f"--nproc {plan.nproc} runs under torchrun (the CLI starts it)")
    if plan.nproc > 1 or launched_rank() is not None:
        return init_parallel(plan, local_device() or torch.device("cpu"))
    return None


def _register(
    t: Training, record: RunRecord, cfg: TrainConfig, name: str, keep_shards: bool
) -> None:
    """The finished checkpoint registered with its run closed; what only a resume needed
    (the training state, and the DCP shards unless kept) goes."""
    parent = None if t.parent is None else t.parent.name
    record.finish(
        name=name,
        path=t.out,
        method=cfg.method,
        task=t.model.task,
        parent=parent,
        config=cfg.to_dict(),
    )
    (t.out / STATE_FILE).unlink(missing_ok=True)
    if not keep_shards:
        shutil.rmtree(t.out / SHARDS, ignore_errors=True)


def _restore(state: dict[str, Any], model: WanVideoModel, optimizer, scheduler, par) -> None:
    """Weights, optimiser, schedule and RNG of the checkpoint a resume starts from."""
    if par is None:
        restore_weights(model, state["folder"])
        optimizer.load_state_dict(state["optimizer"])
    else:
        load_sharded_checkpoint(state["folder"], model, optimizer)
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])


def _record(
    store: Store, cfg: TrainConfig, name: str, plan: ParallelPlan, t: Training, report_to: str
) -> RunRecord:
    """A fresh run's record, or the resumed run's reopened; rank 0's with its tracker."""
    if t.state is not None:
        step = t.state["step"]
        record = RunRecord.reopen(store, t.state["run_id"], step, t.main, cfg.log_every)
    else:
        config = {
            "name": name,
            **cfg.to_dict(),
            "parallel": plan.to_dict(),
            "attention_backend": t.attention,
        }
        record = RunRecord.start(store, config, cfg.seed, t.main, cfg.log_every)
    if t.main:
        record.tracker = open_tracker(report_to, store.home / "logs", name, cfg.to_dict())
    return record


def _save_checkpoint(
    t: Training, cfg: TrainConfig, done: int, run_id: str, bad_in_a_row: int
) -> None:
    """Weights, optimiser and what a resume needs (one folder, or DCP shards when sharded)."""
    state = {
        "step": done,
        "config": cfg.to_dict(),
        "run_id": run_id,
        "bad_in_a_row": bad_in_a_row,
        "sharded": t.par is not None,
    }
    if isinstance(t.reference, CachedReference):
        state["reference_errors"] = t.reference.table
    state["scheduler"] = t.scheduler.state_dict()
    state["torch_rng"] = torch.get_rng_state()  # for any module that draws from it
    _check_finite(t.params, done, t.par)
    parent_path = t.parent and t.parent.path
    if t.par is None:
        state["optimizer"] = t.optimizer.state_dict()
        save_training_checkpoint(t.out, t.model, parent_path, state)
    else:
        save_sharded_checkpoint(t.out, t.model, t.optimizer, parent_path, state, t.par)


def train_step(
    model: WanVideoModel,
    data: TrainingSet,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    step: int,
    runtime: Runtime,
    reference: ReferenceFn | None = None,
    par: Parallel | None = None,
    pair: str = "fused",
) -> dict[str, float]:
    """One optimiser step over grad_accum micro-batches; returns averaged stats (counted
    ones, such as accuracy per timestep quarter, pooled over the micro-batches and, with
    several processes, over the data-parallel ranks).

    A non-finite loss or gradient skips the update ('skipped' = 1) on every rank.
    """
    started = time.perf_counter()
    micro_stats: list[dict] = []
    finite = True
    device = runtime.device
    passes = pair_passes(pair, "w" if par is None else par.pair_side)
    exchange = (
        functools.partial(exchange_sides, group=par.group("pair")) if pair == "split" else None
    )
    scale = 1.0 if par is None else par.loss_scale
    for micro in range(cfg.grad_accum):
        position = (step * cfg.grad_accum + micro) * cfg.batch_size
        draws = batch_draws(data, position, cfg.batch_size, cfg.seed, _t_sampler(cfg), cfg.dropout)
        if par is not None:
            draws = draws.part(par.dp_rank, par.plan.data_degree)
        cond = _condition(model, data, draws)
        with runtime.autocast():
            if cfg.method == "sft":
                loss, stats = sft_objective(model, data, draws, cond, device)
            else:
                loss, stats = preference_objective(
                    model, data, draws, cond, device, cfg, reference, passes, exchange
                )
        finite = _all_ranks(finite and bool(torch.isfinite(loss)), par)
        if finite:
            (loss * scale / cfg.grad_accum).backward()
        micro_stats.append(stats)
    totals = pool_stats(_every_rank(micro_stats, par))
    grad_norm = _clipped_grad_norm(params, cfg.grad_clip) if finite else math.nan
    finite = finite and math.isfinite(grad_norm)
    if finite:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    totals |= {"grad_norm": float(grad_norm), "skipped": float(not finite)}
    totals["step_time"] = time.perf_counter() - started
    return totals


def _every_rank(micro_stats: list[dict], par: Parallel | None) -> list[dict]:
    """Every data-parallel rank's micro-batch stats, in rank order."""
    if par is None:
        return micro_stats
    gathered: list[list[dict]] = [[] for _ in range(par.plan.data_degree)]
    dist.all_gather_object(gathered, micro_stats, group=par.group("dp_shard"))
    return [s for rank in gathered for s in rank]


def _clipped_grad_norm(params: list[torch.nn.Parameter], grad_clip: float) -> float:
    """The gradients' total norm before clipping them to `grad_clip` (0: no clipping)."""
    norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf)
    if hasattr(norm, "full_tensor"):  # a DTensor under FSDP2
        norm = norm.full_tensor()
    return float(norm)


def pool_stats(micro_stats: list[dict[str, Any]]) -> dict[str, float]:
    """One step's stats from its micro-batches': means of the values, and counted ones
    ((hits, count), such as accuracy per timestep quarter) as pooled hits / count, so a
    quarter that one micro-batch did not draw is not counted as a miss."""
    sums: dict[str, float] = {}
    counts: dict[str, tuple[float, int]] = {}
    for stats in micro_stats:
        for k, v in stats.items():
            if isinstance(v, tuple):
                hits, n = counts.get(k, (0.0, 0))
                counts[k] = (hits + v[0], n + v[1])
            else:
                sums[k] = sums.get(k, 0.0) + v / len(micro_stats)
    return sums | {k: hits / n for k, (hits, n) in counts.items()}


def _t_sampler(cfg: TrainConfig):
    return functools.partial(
        sample_timesteps, scheme=cfg.timesteps, mean=cfg.t_mean, std=cfg.t_std, shift=cfg.t_shift
    )


def _condition(model: WanVideoModel, data: TrainingSet, draws):
    """A dropped prompt becomes ''; the I2V image condition stays."""
    prompts = [
        "" if d else data.prompts[i] for i, d in zip(draws.items, draws.drop.tolist(), strict=True)
    ]
    return data.condition(model, draws.items, prompts)


def _check_finite(params: list[torch.nn.Parameter], step: int, par: Parallel | None) -> None:
    local = all(bool(torch.isfinite(getattr(p, "_local_tensor", p)).all()) for p in params)
    if not _all_ranks(local, par):
        raise WorkbenchError(f"weights became non-finite by step {step}; not writing a checkpoint")


def _all_ranks(flag: bool, par: Parallel | None) -> bool:
    """True only if true on every rank: all of them skip a step or none does."""
    if par is None:
        return flag
    value = torch.tensor([float(flag)], device=par.mesh.device_type)  # the mesh's device
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


@contextlib.contextmanager
def _main_first(par: Parallel | None) -> Iterator[None]:
    """Rank 0 does the work first (filling shared caches); the others follow."""
    if par is not None and not par.is_main:
        par.barrier()
    yield
    if par is not None and par.is_main:
        par.barrier()


def check_plan(cfg: TrainConfig, plan: ParallelPlan, compile_blocks: bool = False) -> None:
    """Refuse a layout the run cannot use, before any process starts work.

    Raises:
        WorkbenchError: naming what does not fit.
    """
    if plan.nproc == 1:
        return
    if compile_blocks:
        raise WorkbenchError("--compile runs on one process (untried with FSDP2 and CP)")
    if cfg.init == "tiny":
        raise WorkbenchError("several processes fine-tune a checkpoint; train --init tiny on one")
    if plan.pair == "split" and cfg.method == "sft":
        raise WorkbenchError("--pair-parallel split needs pairs (dpo, regdpo); sft has no loser")
    if cfg.batch_size % plan.data_degree:
        raise WorkbenchError(
            f"--batch-size {cfg.batch_size} does not split over {plan.data_degree} "
            "data-parallel ranks"
        )


def _previous_state(
    store: Store, cfg: TrainConfig, name: str, out: Path, resume: bool, sharded: bool = False
) -> dict[str, Any] | None:
    """The state to resume from (with its folder), or None for a fresh run. A sharded run
    resumes on any number of processes > 1, a single-process run on one."""
    if checkpoint_exists(store, name):
        raise WorkbenchError(f"checkpoint {name!r} already exists; choose another --name")
    if not resume:
        if existing_version(out) is not None:
            raise WorkbenchError(f"an unfinished run left {out}; pass --resume to continue it")
        return None
    folder, state = load_training_state(out)
    if state["config"] != cfg.to_dict():
        raise WorkbenchError(f"--resume with another config than the run in {out}")
    if state.get("sharded", False) != sharded or (sharded and not (folder / SHARDS).is_dir()):
        was = "several processes" if state.get("sharded") else "one process"
        raise WorkbenchError(f"the run in {out} was trained by {was}; resume it the same way")
    return {**state, "folder": folder}

"""The training loop: one model, one objective, exact resume, metrics into the store."""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from training.cache import cache_key, load_reference_table, save_reference_table
from training.checkpointing import (
    STATE_FILE,
    load_training_state,
    restore_weights,
    save_training_checkpoint,
)
from training.config import TrainConfig
from training.data import DEFAULT_RAM_BYTES, TrainingSet, batch_draws, load_clips, load_pairs
from training.objectives import fused_pair_inputs, preference_objective, sft_objective
from training.reference import (
    CachedReference,
    FrozenReference,
    ReferenceFn,
    lora_disabled_reference,
)
from training.timesteps import sample_timesteps
from workbench.atomic import existing_version
from workbench.checkpoints import (
    CheckpointRef,
    checkpoint_dir,
    register_checkpoint,
    resolve_checkpoint,
)
from workbench.datasets import get_dataset
from workbench.errors import WorkbenchError
from workbench.models.loading import (
    apply_lora,
    load_model,
    load_transformer,
    trainable_parameters,
)
from workbench.models.runtime import Runtime, apply_ac, pick_runtime
from workbench.models.tiny import TinyWanConfig, build_tiny_wan
from workbench.models.wan import WanVideoModel
from workbench.provenance import run_row
from workbench.store import Store

METRICS_FLUSH_EVERY = 50


def build_model(
    store: Store, cfg: TrainConfig, runtime: Runtime
) -> tuple[WanVideoModel, CheckpointRef | None]:
    """The model to train and the checkpoint it came from (None when built from scratch).
    Under LoRA the base weights load in the runtime's frozen dtype (bf16 on CUDA)."""
    if cfg.init == "tiny":
        spec = get_dataset(store, cfg.dataset)
        tiny = TinyWanConfig(patch_size=tuple(cfg.tiny_patch))
        model = build_tiny_wan(tiny, cfg.task, spec.frames, spec.height,
                               spec.width, spec.fps, seed=cfg.seed)  # fmt: skip
        return model, None
    parent = resolve_checkpoint(store, cfg.init)  # refuses non-finite weights
    dtype = runtime.frozen_dtype if cfg.trains_lora else torch.float32
    return load_model(parent.path, dtype), parent


def make_trainable(model: WanVideoModel, cfg: TrainConfig, runtime: Runtime) -> None:
    """Trainable weights in fp32 (the optimiser's master copy); a LoRA base stays frozen in
    the runtime's frozen dtype."""
    if cfg.trains_lora:
        runtime.freeze(model.transformer)
        apply_lora(model.transformer, cfg.lora_rank, cfg.lora_alpha, list(cfg.lora_targets),
                   cfg.seed)  # fmt: skip
        for param in trainable_parameters(model.transformer):
            param.data = param.data.float()
    else:
        model.transformer.float().requires_grad_(True)
    # A model built from scratch learns its tiny text encoder too (a frozen random one carries
    # too little of the prompt); afterwards it stays frozen, as a pretrained UMT5 does.
    model.prompts.set_trainable(cfg.init == "tiny")


def build_reference(
    store: Store,
    cfg: TrainConfig,
    model: WanVideoModel,
    data: TrainingSet,
    runtime: Runtime,
    parent: CheckpointRef | None,
    cached: dict[tuple[int, int], tuple[float, float]] | None = None,
) -> ReferenceFn | None:
    """The DPO reference, built before any weight changes (a copy is of the start).

    `cached`: the table of a `cached` reference saved with the run (a resume reuses it).
    Otherwise a `cached` reference starts from the shared table of earlier runs with the
    same reference, items and draws, computes only what is missing, and adds it there."""
    if cfg.method == "sft":
        return None
    if cached is not None:
        return CachedReference(cached)
    if cfg.ref_ckpt:
        other_ref = resolve_checkpoint(store, cfg.ref_ckpt)
        other = load_transformer(other_ref.path, runtime.frozen_dtype)
        base, network, kind = (
            FrozenReference(model, runtime, other.to(runtime.device)),
            other_ref,
            "copy",
        )
    elif cfg.trains_lora and cfg.reference_kind in ("lora", "cached"):
        base, network, kind = lora_disabled_reference(model), parent, "lora"
    else:
        base, network, kind = FrozenReference(model, runtime), parent, "copy"
    if cfg.reference_kind != "cached":
        return base
    key = _reference_key(cfg, data, runtime, network, kind)
    known = {} if key is None else load_reference_table(store, key)
    table = precompute_reference(model, data, cfg, base, runtime, known)
    if key is not None and len(table) > len(known):
        save_reference_table(store, key, table)
    return CachedReference(table)


def _reference_key(cfg: TrainConfig, data: TrainingSet, runtime: Runtime,
                   network: CheckpointRef | None, kind: str) -> str | None:  # fmt: skip
    """What a reference error depends on: the reference's weights and how it runs, the
    items, and how they are drawn (batch size too: batching moves the last bits)."""
    if network is None:  # a model built from scratch: nothing to share
        return None
    payload = [network.fingerprint, kind, runtime.precision, runtime.device.type,
               data.fingerprint, cfg.seed, cfg.batch_size, cfg.timesteps, cfg.t_mean,
               cfg.t_std, cfg.t_shift, cfg.dropout]  # fmt: skip
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
        draws = batch_draws(data, position, cfg.batch_size, cfg.seed, _t_sampler(cfg),
                            cfg.dropout)  # fmt: skip
        if all(key in table for key in zip(draws.items, draws.epochs, strict=True)):
            continue
        cond = _condition(model, data, draws)
        x_t, t2, cond2, target = fused_pair_inputs(data, draws, cond, runtime.device)
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


def train(
    store: Store,
    cfg: TrainConfig,
    name: str,
    resume: bool = False,
    progress: bool = True,
    offload: bool = False,
    activation_checkpointing: bool = False,
    ram_bytes: int = DEFAULT_RAM_BYTES,
) -> CheckpointRef:
    """Train to `cfg.steps` and register the checkpoint `name`.

    `offload`, `activation_checkpointing` and `ram_bytes` (latents kept in memory; the rest
    is read from the on-disk cache) trade speed for memory without changing the numbers.

    Raises:
        WorkbenchError: the name is taken, a run to resume is missing or differs, bad data,
            too many non-finite steps in a row.
    """
    out = checkpoint_dir(store, name)
    state = _previous_state(store, cfg, name, out, resume)
    runtime = pick_runtime(cfg.precision, offload)
    model, parent = build_model(store, cfg, runtime)
    make_trainable(model, cfg, runtime)
    model.place(runtime)
    if activation_checkpointing:
        apply_ac(model.transformer)
    data = (
        load_pairs(store, model, cfg.pairs, ram_bytes)
        if cfg.pairs
        else load_clips(store, model, cfg.dataset, ram_bytes=ram_bytes)
    )
    if not model.prompts.trainable:
        model.prompts.encode([*data.prompts, ""])  # every embedding once, before the loop
    reference = build_reference(store, cfg, model, data, runtime, parent,
                                (state or {}).get("reference_errors"))  # fmt: skip
    model.transformer.train()
    params = trainable_parameters(model.transformer)
    params += trainable_parameters(model.prompts.text_encoder)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))

    if state is None:
        run = run_row("train", {"name": name, **cfg.to_dict()}, cfg.seed, status="running")
        store.insert("runs", [run])
        run_id, start = run["id"], 0
    else:
        restore_weights(model, state["folder"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        run_id, start = state["run_id"], state["step"]
        with store.write() as con:  # steps after the checkpoint will be logged again
            con.execute("DELETE FROM train_metrics WHERE run_id = ? AND step > ?", [run_id, start])
            con.execute("UPDATE runs SET status = 'running', message = NULL, finished_at = NULL "
                        "WHERE id = ?", [run_id])  # fmt: skip

    step_fn = functools.partial(train_step, model, data, cfg, optimizer, params, runtime=runtime,
                                reference=reference)  # fmt: skip
    metrics: list[dict[str, Any]] = []
    bad_in_a_row = (state or {}).get("bad_in_a_row", 0)
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train {name}",
               disable=not progress)  # fmt: skip
    try:
        for step in bar:
            stats = step_fn(step)
            stats["lr"] = scheduler.get_last_lr()[0]
            if not stats["skipped"]:
                scheduler.step()
            done = step + 1
            metrics += [{"run_id": run_id, "step": done, "name": k, "value": float(v)}
                        for k, v in stats.items()]  # fmt: skip
            bar.set_postfix(loss=f"{stats['loss']:.4f}")
            bad_in_a_row = bad_in_a_row + 1 if stats["skipped"] else 0
            if bad_in_a_row >= cfg.max_bad_steps:
                store.insert("train_metrics", metrics)
                raise WorkbenchError(
                    f"stopped at step {done}: {bad_in_a_row} non-finite steps in a row (loss or "
                    f"gradient); the last finite checkpoint stays in {out} (--resume)"
                )
            checkpoint = done % cfg.checkpoint_every == 0 or done == cfg.steps
            if checkpoint or done % METRICS_FLUSH_EVERY == 0:
                store.insert("train_metrics", metrics)
                metrics = []
            if checkpoint:
                state = {"step": done, "config": cfg.to_dict(), "run_id": run_id,
                         "bad_in_a_row": bad_in_a_row}  # fmt: skip
                if isinstance(reference, CachedReference):
                    state["reference_errors"] = reference.table
                state |= {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
                state["torch_rng"] = torch.get_rng_state()  # for any module that draws from it
                _check_finite(params, done)
                save_training_checkpoint(out, model, parent and parent.path, state)
    except WorkbenchError as exc:  # the run's record says why it stopped
        with store.write() as con:
            con.execute("UPDATE runs SET status = 'failed', message = ?, finished_at = now() "
                        "WHERE id = ?", [str(exc), run_id])  # fmt: skip
        raise
    return _finish(store, cfg, name, out, model.task, parent, run_id)


def train_step(
    model: WanVideoModel,
    data: TrainingSet,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    step: int,
    runtime: Runtime,
    reference: ReferenceFn | None = None,
) -> dict[str, float]:
    """One optimiser step over grad_accum micro-batches; returns averaged stats (counted
    ones, such as accuracy per timestep quarter, pooled over the micro-batches).

    A non-finite loss or gradient skips the update ('skipped' = 1).
    """
    started = time.perf_counter()
    micro_stats: list[dict] = []
    finite = True
    device = runtime.device
    for micro in range(cfg.grad_accum):
        position = (step * cfg.grad_accum + micro) * cfg.batch_size
        draws = batch_draws(data, position, cfg.batch_size, cfg.seed, _t_sampler(cfg),
                            cfg.dropout)  # fmt: skip
        cond = _condition(model, data, draws)
        with runtime.autocast():
            if cfg.method == "sft":
                loss, stats = sft_objective(model, data, draws, cond, device)
            else:
                loss, stats = preference_objective(model, data, draws, cond, device, cfg, reference)
        finite = finite and bool(torch.isfinite(loss))
        if finite:
            (loss / cfg.grad_accum).backward()
        micro_stats.append(stats)
    totals = pool_stats(micro_stats)
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
    grad_norm = (
        torch.nn.utils.clip_grad_norm_(params, max_norm) if finite else torch.tensor(math.nan)
    )
    finite = finite and bool(torch.isfinite(grad_norm))
    if finite:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    totals |= {"grad_norm": float(grad_norm), "skipped": float(not finite)}
    totals["step_time"] = time.perf_counter() - started
    return totals


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
    return functools.partial(sample_timesteps, scheme=cfg.timesteps, mean=cfg.t_mean,
                             std=cfg.t_std, shift=cfg.t_shift)  # fmt: skip


def _condition(model: WanVideoModel, data: TrainingSet, draws):
    """A dropped prompt becomes ''; the I2V image condition stays."""
    prompts = [
        "" if d else data.prompts[i] for i, d in zip(draws.items, draws.drop.tolist(), strict=True)
    ]
    return data.condition(model, draws.items, prompts)


def _check_finite(params: list[torch.nn.Parameter], step: int) -> None:
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise WorkbenchError(f"weights became non-finite by step {step}; not writing a checkpoint")


def _previous_state(
    store: Store, cfg: TrainConfig, name: str, out: Path, resume: bool
) -> dict[str, Any] | None:
    """The state to resume from (with its folder), or None for a fresh run."""
    if store.query("SELECT name FROM checkpoints WHERE name = ?", [name]):
        raise WorkbenchError(f"checkpoint {name!r} already exists; choose another --name")
    if not resume:
        if existing_version(out) is not None:
            raise WorkbenchError(f"an unfinished run left {out}; pass --resume to continue it")
        return None
    folder, state = load_training_state(out)
    if state["config"] != cfg.to_dict():
        raise WorkbenchError(f"--resume with another config than the run in {out}")
    return {**state, "folder": folder}


def _finish(
    store: Store, cfg: TrainConfig, name: str, out: Path, task: str,
    parent: CheckpointRef | None, run_id: str,
) -> CheckpointRef:  # fmt: skip
    """Register the checkpoint and close the run (one transaction), then drop the resume
    state: a crash in between leaves a registered checkpoint, never a run that can neither
    resume nor restart."""
    with store.write() as con:
        ref = register_checkpoint(
            con, store, name=name, path=out, method=cfg.method, task=task,
            parent=None if parent is None else parent.name, run_id=run_id, config=cfg.to_dict(),
        )  # fmt: skip
        con.execute("UPDATE runs SET status = 'done', finished_at = now() WHERE id = ?", [run_id])
    (out / STATE_FILE).unlink(missing_ok=True)
    return ref

"""The training loop: one model, one objective, exact resume, metrics into the store."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from training.checkpointing import (
    STATE_FILE,
    load_training_state,
    restore_weights,
    save_training_checkpoint,
)
from training.config import TrainConfig
from training.data import ClipSet, batch_indices, load_clips, step_generator
from training.losses import per_sample_error, sft_loss
from training.timesteps import noisy_latents, sample_timesteps
from workbench.atomic import existing_version
from workbench.checkpoints import (
    CheckpointRef,
    checkpoint_dir,
    register_checkpoint,
    resolve_checkpoint,
)
from workbench.datasets import get_dataset
from workbench.errors import WorkbenchError
from workbench.models.loading import apply_lora, load_model, trainable_parameters
from workbench.models.tiny import TinyWanConfig, build_tiny_wan
from workbench.models.wan import WanVideoModel
from workbench.provenance import run_row
from workbench.store import Store

METRICS_FLUSH_EVERY = 50


def build_model(store: Store, cfg: TrainConfig) -> tuple[WanVideoModel, CheckpointRef | None]:
    """The model to train (with its LoRA adapter when asked) and the checkpoint it came from."""
    if cfg.init == "tiny":
        spec = get_dataset(store, cfg.dataset)
        model = build_tiny_wan(TinyWanConfig(), cfg.task, spec.frames, spec.height,
                               spec.width, spec.fps, seed=cfg.seed)  # fmt: skip
        parent = None
    else:
        parent = resolve_checkpoint(store, cfg.init)
        model = load_model(parent.path)
    if cfg.trains_lora:
        model.transformer.requires_grad_(False)
        apply_lora(model.transformer, cfg.lora_rank, cfg.lora_alpha, list(cfg.lora_targets))
    else:
        model.transformer.requires_grad_(True)
    # A model built from scratch learns its tiny text encoder too (a frozen random one carries
    # too little of the prompt); afterwards it stays frozen, as a pretrained UMT5 does.
    model.prompts.set_trainable(cfg.init == "tiny")
    return model, parent


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
    store: Store, cfg: TrainConfig, name: str, resume: bool = False, progress: bool = True
) -> CheckpointRef:
    """Train to `cfg.steps` and register the checkpoint `name`.

    Raises:
        WorkbenchError: the name is taken, a run to resume is missing or differs, bad data.
    """
    out = checkpoint_dir(store, name)
    state = _previous_state(store, cfg, name, out, resume)
    model, parent = build_model(store, cfg)
    clips = load_clips(store, model, cfg.dataset, "train")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.transformer.to(device).train()
    params = trainable_parameters(model.transformer)
    params += trainable_parameters(model.prompts.text_encoder)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    if not model.prompts.trainable:
        model.prompts.encode([*clips.prompts, ""])  # every embedding once, before the loop

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

    metrics: list[dict[str, Any]] = []
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train {name}",
               disable=not progress)  # fmt: skip
    for step in bar:
        stats = train_step(model, clips, cfg, optimizer, params, step, device)
        stats["lr"] = scheduler.get_last_lr()[0]
        scheduler.step()
        done = step + 1
        metrics += [{"run_id": run_id, "step": done, "name": k, "value": float(v)}
                    for k, v in stats.items()]  # fmt: skip
        bar.set_postfix(loss=f"{stats['loss']:.4f}")
        checkpoint = done % cfg.checkpoint_every == 0 or done == cfg.steps
        if checkpoint or done % METRICS_FLUSH_EVERY == 0:
            store.insert("train_metrics", metrics)
            metrics = []
        if checkpoint:
            state = {"step": done, "config": cfg.to_dict(), "run_id": run_id}
            state |= {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
            state["torch_rng"] = torch.get_rng_state()  # for any module that draws from it
            save_training_checkpoint(out, model, parent and parent.path, state)
    return _finish(store, cfg, name, out, model.task, parent, run_id)


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
    """Drop the resume state, register the checkpoint and close the run, together."""
    (out / STATE_FILE).unlink()
    with store.write() as con:
        ref = register_checkpoint(
            con, store, name=name, path=out, method=cfg.method, task=task,
            parent=None if parent is None else parent.name, run_id=run_id, config=cfg.to_dict(),
        )  # fmt: skip
        con.execute("UPDATE runs SET status = 'done', finished_at = now() WHERE id = ?", [run_id])
    return ref


def train_step(
    model: WanVideoModel,
    clips: ClipSet,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    params: list[torch.nn.Parameter],
    step: int,
    device: torch.device,
) -> dict[str, float]:
    """One optimiser step over grad_accum micro-batches; returns averaged stats."""
    started = time.perf_counter()
    totals: dict[str, float] = {}
    for micro in range(cfg.grad_accum):
        gen = step_generator(cfg.seed, step, micro)
        position = (step * cfg.grad_accum + micro) * cfg.batch_size
        idx = batch_indices(len(clips), cfg.batch_size, cfg.seed, position)
        x0 = clips.latents[idx]
        drop = torch.rand(len(idx), generator=gen) < cfg.prompt_dropout
        prompts = ["" if d else clips.prompts[i] for i, d in zip(idx, drop.tolist(), strict=True)]
        cond = model.condition(prompts, clips.first_frames[idx], clips.num_frames)
        noise = torch.randn(x0.shape, generator=gen)
        t = sample_timesteps(len(idx), gen, cfg.timesteps, cfg.t_mean, cfg.t_std, cfg.t_shift)
        x_t, target = noisy_latents(x0, noise, t)
        with torch.autocast("cuda", torch.bfloat16, enabled=device.type == "cuda"):
            v_pred = model.velocity(x_t.to(device), t.to(device), cond)
        loss, stats = sft_loss(per_sample_error(v_pred, target.to(device)))
        (loss / cfg.grad_accum).backward()
        for k, v in stats.items():
            totals[k] = totals.get(k, 0.0) + v / cfg.grad_accum
    max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
    totals["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    totals["step_time"] = time.perf_counter() - started
    return totals

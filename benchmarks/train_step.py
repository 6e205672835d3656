"""`workbench bench train-step`: pairs per second of a Reg-DPO step on the embedded model, the
workbench's path against a naive one, in one process, and how close the workbench's step
comes to the machine's matmul rate.

naive: every step decodes its winners' and losers' mp4 files and encodes them, encodes its
prompts, and runs four separate forwards (policy winner, policy loser, reference winner,
reference loser: the LoRA-disabled model, under no_grad).
default: `training.trainer.train_step` itself: latents from the on-disk cache, cached prompt
embeddings, winner and loser fused into one 2B forward, the reference likewise.
compiled: the default with the cached reference and `train --compile` (blocks compiled).
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import count_flops, device_name, median_seconds, page_faults_per_call
from training.cache import RamCache, Shelf, cached_conditions, cached_latents
from training.config import TrainConfig
from training.data import TrainingSet
from training.losses import per_sample_error, regdpo_loss
from training.reference import CachedReference, lora_disabled_reference
from training.timesteps import noisy_latents, sample_timesteps
from training.trainer import make_trainable, precompute_reference, train_step
from training.transforms import apply_compile
from workbench import media
from workbench.allocator import keep_freed_memory
from workbench.models import EMBEDDED_BASES
from workbench.models.loading import load_model, trainable_parameters
from workbench.models.runtime import pick_runtime
from workbench.models.tiny import TinyWanConfig, build_tiny_wan
from workbench.models.wan import Conditioning
from workbench.world.shapes import WorldConfig, make_sample, vocabulary


def bench_train_step(
    batch: int = 8,
    repeats: int = 20,
    pairs: int = 32,
    matmul_size: int = 1024,
    compiled: bool = True,
) -> dict[str, Any]:
    """Median seconds per step of each path (after warm-up), pairs per second, their ratios,
    the default path's FLOP/s against a large matmul's, and (`compiled`) what `--compile`
    costs and after how many steps it pays."""
    runtime = pick_runtime()
    world = WorldConfig()
    samples = [make_sample(world, 0, i) for i in range(2 * pairs)]
    cfg = TrainConfig(method="regdpo", pairs="bench", init="base", batch_size=batch, lr=1e-4)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        winners = [_mp4(folder / f"w{i}.mp4", s, world) for i, s in enumerate(samples[:pairs])]
        losers = [_mp4(folder / f"l{i}.mp4", s, world) for i, s in enumerate(samples[pairs:])]
        prompts = [s.prompt for s in samples[:pairs]]
        model = load_model(EMBEDDED_BASES["tiny"])
        make_trainable(model, cfg, runtime)
        model.place(runtime)
        reference = lora_disabled_reference(model)
        params = trainable_parameters(model.transformer)
        optimizer = torch.optim.AdamW(params, lr=cfg.lr)
        model.transformer.train()

        naive = _naive_step(
            model, cfg, winners, losers, prompts, optimizer, params, runtime, reference
        )
        data = _cached_set(model, folder, winners, losers, prompts, world.frames)
        model.prompts.encode([*prompts, ""])

        def default(step: int) -> None:
            train_step(model, data, cfg, optimizer, params, step, runtime, reference)

        cached, precompute_s = _cached_reference(model, data, cfg, repeats, reference, runtime)

        def default_cached(step: int) -> None:
            train_step(model, data, cfg, optimizer, params, step, runtime, cached)

        arms = (
            ("naive", naive),
            ("default", default),
            ("default_cached_reference", default_cached),
        )
        times = {name: median_seconds(fn, repeats, f"bench train-step {name}") for name, fn in arms}
        measured = {
            "times": times,
            "precompute_s": precompute_s,
            "faults": page_faults_per_call(default_cached, repeats),
            "flops": count_flops(lambda: default(0)),
            "compiled": _compiled(model, default_cached, times, repeats) if compiled else None,
        }
        base = _base_step(folder, samples, world, runtime)
        measured["base_s"] = median_seconds(base, repeats, "bench train-step base")
        measured["base_flops"] = count_flops(lambda: base(0))
    matmul = _matmul_flops_per_s(matmul_size, runtime.device)
    return _summary(measured, batch, repeats, runtime, matmul_size, matmul)


def _cached_reference(model, data, cfg: TrainConfig, repeats: int, reference, runtime):
    """The study's preference arms read the reference's errors from the shared cache, so a
    step runs no reference forward; the first arm computes them once (seconds per step)."""
    steps_cfg = dataclasses.replace(cfg, steps=repeats + 1)
    started = time.perf_counter()
    table = precompute_reference(model, data, steps_cfg, reference, runtime)
    return CachedReference(table), (time.perf_counter() - started) / steps_cfg.steps


def _mp4(path: Path, sample, world: WorldConfig) -> Path:
    return media.write_mp4(path, sample.frames, world.fps)


def _summary(
    m: dict[str, Any], batch: int, repeats: int, runtime, matmul_size: int, matmul: float
) -> dict[str, Any]:
    """The JSON `bench train-step` prints, from what was measured."""
    times, flops = m["times"], m["flops"]
    achieved = flops / times["default"]
    return {
        "benchmark": "train-step",
        "model": "embedded base (tiny Wan2.1, pixel codec)",
        "method": "regdpo, LoRA r16, reference lora (cached: read from the shared table)",
        "batch_pairs": batch,
        "device": device_name(runtime.device),
        "repeats": repeats,
        "step_s": times,
        "pairs_per_s": {k: batch / v for k, v in times.items()},
        "speedup_default_over_naive": times["naive"] / times["default"],
        "speedup_default_cached_reference_over_naive": times["naive"]
        / times["default_cached_reference"],
        "reference_precompute_s_per_step": m["precompute_s"],
        "default_step_flops": flops,
        "default_flops_per_s": achieved,
        "matmul": {"size": matmul_size, "flops_per_s": matmul},
        "compiled_cached_reference": m["compiled"],
        "allocator": {
            "keeps_freed_memory": keep_freed_memory(),
            "page_faults_per_step_cached_reference": m["faults"],
        },
        "utilisation": achieved / matmul,
        "base_training": {  # the embedded base's own recipe: SFT from scratch, batch 16
            "steps_per_s": 1 / m["base_s"],
            "step_flops": m["base_flops"],
            "flops_per_s": m["base_flops"] / m["base_s"],
            "utilisation": m["base_flops"] / m["base_s"] / matmul,
        },
    }


def _compiled(model, step, times: dict[str, float], repeats: int) -> dict[str, Any]:
    """The cached-reference step with `apply_compile` (what `train --compile` does): the
    compile's cost (its first step less an eager one), the compiled step, and the run length
    from which it saves time."""
    started = time.perf_counter()
    apply_compile(model.transformer)
    step(0)
    compile_s = time.perf_counter() - started - times["default_cached_reference"]
    step_s = median_seconds(step, repeats, "bench train-step compiled")
    saved = times["default_cached_reference"] - step_s
    return {
        "compile_s": compile_s,
        "step_s": step_s,
        "speedup_over_naive": times["naive"] / step_s,
        "pays_after_steps": compile_s / saved if saved > 0 else None,
    }


def _base_step(folder: Path, samples, world, runtime):
    """A step of the embedded base's recipe (REPRODUCE.json: from scratch, I2V, batch 16,
    lr 3e-3, t-shift 3), the text encoder training too."""
    cfg = TrainConfig(
        method="sft", init="tiny", task="i2v", batch_size=16, lr=3e-3, t_shift=3.0, pairs=None
    )
    model = build_tiny_wan(
        TinyWanConfig(), "i2v", world.frames, world.size, world.size, world.fps, vocabulary()
    )
    make_trainable(model, cfg, runtime)
    model.place(runtime)
    clips = [(f"b{i}", functools.partial(getattr, s, "frames")) for i, s in enumerate(samples)]
    data = _shelved(model, folder, clips, None, [s.prompt for s in samples], world.frames)
    params = trainable_parameters(model.transformer)
    params += trainable_parameters(model.prompts.text_encoder)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr)
    model.transformer.train()
    return lambda step: train_step(model, data, cfg, optimizer, params, step, runtime)


def _naive_step(model, cfg, winners, losers, prompts, optimizer, params, runtime, reference):
    """Everything every step: decode, encode, four forwards."""

    def step(position: int) -> None:
        gen = torch.Generator().manual_seed(position)
        items = torch.randint(0, len(prompts), (cfg.batch_size,), generator=gen).tolist()
        w_frames = np.stack([media.read_video(winners[i])[0] for i in items])
        w = model.codec.encode(w_frames)
        l_ = model.codec.encode(np.stack([media.read_video(losers[i])[0] for i in items]))
        text = model.prompts.encode([prompts[i] for i in items], cache=False)
        image = (None, None)
        if model.task == "i2v":
            image = model.image_condition(w_frames[:, 0], w_frames.shape[1])
        noise = torch.randn(w.shape, generator=gen)
        t = sample_timesteps(cfg.batch_size, gen).to(runtime.device)
        cond = Conditioning(text, *image)
        with runtime.autocast():
            errors, refs = [], []
            for x0 in (w, l_):
                x_t, target = (x.to(runtime.device) for x in noisy_latents(x0, noise, t.cpu()))
                errors.append(per_sample_error(model.velocity(x_t, t, cond), target))
                refs.append(reference(x_t, t, cond, target))
            loss, _ = regdpo_loss(errors[0], errors[1], refs[0], refs[1], cfg.beta, r=cfg.r)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def _cached_set(model, folder: Path, winners, losers, prompts, frames) -> TrainingSet:
    """The pairs as the trainer sees them: latents (and I2V conditions) in cache files written
    by `training.cache`, held in RAM."""
    read = lambda path: media.read_video(path)[0]  # noqa: E731
    w = [(f"w{i}", functools.partial(read, path)) for i, path in enumerate(winners)]
    l_ = [(f"l{i}", functools.partial(read, path)) for i, path in enumerate(losers)]
    return _shelved(model, folder, w, l_, prompts, frames)


def _shelved(model, folder: Path, winners, losers, prompts, frames) -> TrainingSet:
    """A training set over `training.cache` files in `folder`, all held in RAM; the I2V
    condition is each winner's first frame."""
    ram = RamCache(1 << 30)
    shelf = lambda clips: Shelf(cached_latents(folder, model, clips), "latents", ram)  # noqa: E731
    data = TrainingSet(shelf(winners), None if losers is None else shelf(losers), prompts, frames)
    if model.task == "i2v":
        firsts = [(name, lambda load=load: load()[0]) for name, load in winners]
        files = cached_conditions(folder, model, firsts, frames)
        data.image_latents = Shelf(files, "image_latents", ram)
    return data


def _matmul_flops_per_s(n: int, device: torch.device, repeats: int = 10) -> float:
    """The rate of an n x n x n fp32 matmul: what this machine's cores can do at best."""
    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    return 2 * n**3 / median_seconds(lambda _: a @ b, repeats, "bench matmul")

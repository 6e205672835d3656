"""`workbench bench memory`: what one Reg-DPO step costs in memory and time as videos get
longer, for the naive setting and the workbench's default, in one process.

naive: fp32 everywhere, a frozen fp32 copy as the reference, winner and loser in separate
forwards, no activation checkpointing, no caches (every step encodes its clips with the VAE
and its prompts with UMT5, so both stay resident).
default: bf16 frozen weights under bf16 autocast on CUDA (fp32 LoRA), the LoRA-disabled
model as the reference, winner and loser fused in one 2B forward, activation checkpointing,
latents and prompt embeddings encoded once ahead of the steps with the encoders offloaded.

Memory is the peak during a step: on CUDA `max_memory_allocated` (weights included, so a
resident encoder counts); on the CPU the peak resident set (VmHWM, reset before each step)
less the process's resident set before the setting's model was built.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import statistics
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from tqdm.auto import tqdm

from benchmarks.common import count_flops, device_name
from training.losses import per_sample_error, regdpo_loss
from training.parallel import parallelize
from training.reference import FrozenReference, lora_disabled_reference
from training.timesteps import noisy_latents
from training.transforms import apply_ac, apply_attention
from workbench.models.codecs import WanVAECodec
from workbench.models.loading import apply_lora, trainable_parameters
from workbench.models.random_wan import build_random_wan
from workbench.models.runtime import Runtime, pick_runtime
from workbench.models.text import PromptEncoder
from workbench.models.wan import Conditioning, WanVideoModel


@dataclass(frozen=True)
class Setting:
    precision: str  # fp32 | auto
    reference: str  # copy | lora
    fused: bool  # winner and loser in one forward
    activation_checkpointing: bool
    caches: bool  # latents and prompt embeddings encoded once, encoders offloaded
    cp: bool = False  # context parallel over all ranks (bench memory --nproc)
    attention: str = "auto"  # a diffusers attention backend (workbench.models.runtime)


SETTINGS = {
    "naive": Setting("fp32", "copy", fused=False, activation_checkpointing=False, caches=False),
    "default": Setting("auto", "lora", fused=True, activation_checkpointing=True, caches=True),
}
PROMPT = "a red circle moves up"


def bench_memory(
    arch: str = "tiny",
    task: str = "t2v",
    height: int = 32,
    width: int = 32,
    frames: list[int] | None = None,
    settings: list[str] | None = None,
    budget_mb: float = 1024.0,
    repeats: int = 3,
    batch: int = 1,
    max_step_s: float = 120.0,
    attention: str = "auto",
    flops: bool = False,
) -> dict[str, Any]:
    """Per setting and frame count: peak MB and median seconds per step (and with `flops`
    the step's model FLOPs and FLOP/s, for a utilisation against the device's peak); then
    the largest frame count under `budget_mb`. A setting stops growing at its first frame
    count over the budget (or out of memory, or slower than `max_step_s`). `attention`: the
    backend every setting runs (`apply_attention`)."""
    frames = frames or [5, 9, 17, 33]
    names = settings or list(SETTINGS)
    chosen = {n: replace(SETTINGS[n], attention=attention) for n in names}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rows: list[dict[str, Any]] = []
    # A throwaway step first: the process's one-off costs (kernels, allocator pools, lazy
    # imports) belong to no setting.
    _step_cost(arch, task, height, width, frames[0], chosen[names[0]], 0, batch)
    for name in names:
        setting = chosen[name]
        for n in tqdm(frames, desc=f"bench memory {name}", unit="size"):
            row = {
                "setting": name,
                "frames": n,
                **_step_cost(arch, task, height, width, n, setting, repeats, batch, flops=flops),
            }
            row["fits"] = not row["oom"] and row["peak_mb"] <= budget_mb
            rows.append(row)
            if not row["fits"] or row["step_s"] > max_step_s:
                break
    largest = {
        name: max((r["frames"] for r in rows if r["setting"] == name and r["fits"]), default=0)
        for name in names
    }
    out: dict[str, Any] = {
        "benchmark": "memory",
        "arch": arch,
        "task": task,
        "height": height,
        "width": width,
        "batch_pairs": batch,
        "budget_mb": budget_mb,
        "device": device_name(torch.device(device)),
        "settings": {n: asdict(chosen[n]) for n in names},
        "rows": rows,
        "largest_frames": largest,
    }
    if set(largest) >= {"naive", "default"} and largest["naive"]:
        out["capacity_ratio_frames"] = largest["default"] / largest["naive"]
    return out


def _step_cost(
    arch,
    task,
    height,
    width,
    frames,
    setting: Setting,
    repeats,
    batch,
    par=None,
    flops: bool = False,
) -> dict:
    runtime = pick_runtime(setting.precision, offload=setting.caches)
    _release()
    base = _current_bytes(runtime)
    try:
        step = _prepare(arch, task, height, width, frames, setting, runtime, batch, par)
        peaks, times = [], []
        for _ in range(repeats + 1):  # the first is a warm-up
            _reset_peak(runtime)
            started = time.perf_counter()
            step()
            _sync(runtime)
            times.append(time.perf_counter() - started)
            peaks.append(_peak_bytes(runtime) - base)
        cost = {
            "oom": False,
            "peak_mb": max(peaks) / 2**20,
            "step_s": statistics.median(times[1:]) if repeats else times[0],
        }
        if flops:
            cost["step_flops"] = count_flops(step)
            cost["flops_per_s"] = cost["step_flops"] / cost["step_s"]
        del step
        return cost
    except torch.OutOfMemoryError:
        return {"oom": True, "peak_mb": float("inf"), "step_s": float("nan")}
    finally:
        _release()


def _prepare(
    arch, task, height, width, frames, setting: Setting, runtime: Runtime, batch, par=None
):
    """Build the setting's model and inputs; return a closure running one optimiser step.
    `par`: shard the model (and a reference copy) over several processes."""
    model, reference = _model(arch, task, setting, runtime, par)
    model.transformer.train()
    params = trainable_parameters(model.transformer)
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    gen = torch.Generator().manual_seed(0)
    clips = torch.randint(
        0, 256, (2 * batch, frames, height, width, 3), generator=gen, dtype=torch.uint8
    ).numpy()
    first = clips[:batch, 0]
    if setting.caches:  # encoded once; with offload the encoders then leave the device
        latents, text = model.codec.encode(clips), model.prompts.encode([PROMPT] * batch)
        image = model.image_condition(first, frames) if task == "i2v" else (None, None)
    t = torch.rand(batch, generator=gen)
    noise = torch.randn(batch, *model.latent_shape(frames, height, width), generator=gen)

    def step() -> None:
        if setting.caches:
            lat, cond = latents, Conditioning(text, *image)
        else:  # no caches: the encoders work every step
            lat = model.codec.encode(clips)
            cond = Conditioning(model.prompts.encode([PROMPT] * batch, cache=False))
            if task == "i2v":
                cond = Conditioning(cond.text, *model.image_condition(first, frames))
        cond = cond.to(runtime.device)
        xw, vw = noisy_latents(lat[:batch], noise, t)
        xl, vl = noisy_latents(lat[batch:], noise, t)
        x, v = torch.cat([xw, xl]).to(runtime.device), torch.cat([vw, vl]).to(runtime.device)
        tt = torch.cat([t, t]).to(runtime.device)
        with runtime.autocast():
            if setting.fused:
                cond2 = Conditioning.cat([cond, cond])
                err = per_sample_error(model.velocity(x, tt, cond2), v)
                ref = reference(x, tt, cond2, v)
            else:  # four forwards: policy and reference, winner then loser
                sides = [slice(0, batch), slice(batch, 2 * batch)]
                err = torch.cat(
                    [per_sample_error(model.velocity(x[s], tt[s], cond), v[s]) for s in sides]
                )
                ref = torch.cat([reference(x[s], tt[s], cond, v[s]) for s in sides])
            err_w, err_l = err.float().chunk(2)
            ref_w, ref_l = ref.float().chunk(2)
            loss, _ = regdpo_loss(err_w, err_l, ref_w, ref_l, beta=500.0, r=None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def _model(arch: str, task: str, setting: Setting, runtime: Runtime, par):
    """The setting's LoRA model of a random `arch` and its reference, placed (and sharded)
    as `workbench train` does: one process builds on its GPU; a rank of several builds on
    the CPU, and only its shards reach the GPU (`fully_shard` moves them)."""
    on_gpu = runtime.device.type == "cuda" and par is None
    with torch.device(runtime.device) if on_gpu else contextlib.nullcontext():
        parts = build_random_wan(arch, task, image_encoder=False)
    text_encoder, vae = parts["text_encoder"], parts["vae"]
    prompts = PromptEncoder(parts["tokenizer"], text_encoder, 512)
    model = WanVideoModel(parts["transformer"], prompts, WanVAECodec(vae), task, {"family": "wan"})
    apply_attention(model.transformer, setting.attention, runtime.device)
    runtime.freeze(model.transformer)
    apply_lora(model.transformer, rank=16, alpha=32.0)
    for param in trainable_parameters(model.transformer):
        param.data = param.data.float()
    model.place(runtime, transformer=par is None)
    reference = (
        lora_disabled_reference(model)
        if setting.reference == "lora"
        else FrozenReference(model, runtime)
    )
    if setting.activation_checkpointing:
        apply_ac(model.transformer)
    if par is not None:
        parallelize(model.transformer, par, runtime)
        if isinstance(reference, FrozenReference):
            parallelize(reference.network, par, runtime)
    return model, reference


def _sync(runtime: Runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()


def _release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):  # glibc: hand freed pages back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _current_bytes(runtime: Runtime) -> int:
    if runtime.device.type == "cuda":
        return torch.cuda.memory_allocated()
    return _status_kb("VmRSS") * 1024


def _reset_peak(runtime: Runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
            fh.write("5")


def _peak_bytes(runtime: Runtime) -> int:
    if runtime.device.type == "cuda":
        return torch.cuda.max_memory_allocated()
    return _status_kb("VmHWM") * 1024


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")

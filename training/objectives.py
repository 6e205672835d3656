"""One batch's loss for each method: flow-matching errors in, (loss, stats) out."""

from __future__ import annotations

import torch

from training.config import TrainConfig
from training.data import Draws, TrainingSet
from training.losses import bucket_accuracy, per_sample_error, regdpo_loss, sft_loss
from training.reference import ReferenceFn
from training.timesteps import noisy_latents
from workbench.models.wan import Conditioning, WanVideoModel


def sft_objective(
    model: WanVideoModel, data: TrainingSet, draws: Draws, cond: Conditioning, device
) -> tuple[torch.Tensor, dict[str, float]]:
    """Flow matching on the winners (ground truth)."""
    x_t, target = noisy_latents(data.winners[draws.items], draws.noise, draws.t)
    v_pred = model.velocity(x_t.to(device), draws.t.to(device), cond)
    return sft_loss(per_sample_error(v_pred, target.to(device)))


def pair_inputs(
    data: TrainingSet, draws: Draws, cond: Conditioning, device, sides: str = "wl"
) -> tuple[torch.Tensor, torch.Tensor, Conditioning, torch.Tensor]:
    """x_t, t, conditioning and velocity targets of the given sides ('wl': winners then
    losers, a 2B batch; 'w' or 'l' alone), with the same noise and timestep on both sides of
    each pair."""
    shelves = {"w": data.winners, "l": data.losers}
    noisy = [noisy_latents(shelves[s][draws.items], draws.noise, draws.t) for s in sides]
    x_t = torch.cat([x for x, _ in noisy]).to(device)
    target = torch.cat([v for _, v in noisy]).to(device)
    k = len(sides)
    return x_t, draws.t.repeat(k).to(device), Conditioning.cat([cond] * k), target


def preference_objective(
    model: WanVideoModel,
    data: TrainingSet,
    draws: Draws,
    cond: Conditioning,
    device,
    cfg: TrainConfig,
    reference: ReferenceFn,
    passes: tuple[str, ...] = ("wl",),
    exchange=None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DPO / Reg-DPO: winner and loser share noise and t. `passes`: the forwards to run
    (`pair_passes`); `exchange`: fetches the other side's errors under split pair parallel."""
    errors: dict[str, torch.Tensor] = {}
    refs: dict[str, torch.Tensor] = {}
    for sides in passes:
        x_t, t, c, target = pair_inputs(data, draws, cond, device, sides)
        err = per_sample_error(model.velocity(x_t, t, c), target).chunk(len(sides))
        ref = reference(x_t, t, c, target, draws, sides).to(err[0]).chunk(len(sides))
        errors |= zip(sides, err, strict=True)
        refs |= zip(sides, ref, strict=True)
    if exchange is not None:
        errors, refs = exchange(errors), exchange(refs)
    r = 0.0 if cfg.method == "dpo" else cfg.r
    loss, stats = regdpo_loss(
        errors["w"], errors["l"], refs["w"], refs["l"], cfg.beta, r=r, r_scale=cfg.r_scale
    )
    s = (errors["w"] - errors["l"]) - (refs["w"] - refs["l"])
    stats |= bucket_accuracy(s, draws.t)
    return loss, stats

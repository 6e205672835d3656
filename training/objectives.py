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


def fused_pair_inputs(
    data: TrainingSet, draws: Draws, cond: Conditioning, device
) -> tuple[torch.Tensor, torch.Tensor, Conditioning, torch.Tensor]:
    """x_t, t, conditioning and velocity targets of winners then losers (a 2B batch), with
    the same noise and timestep on both sides of each pair."""
    xw, vw = noisy_latents(data.winners[draws.items], draws.noise, draws.t)
    xl, vl = noisy_latents(data.losers[draws.items], draws.noise, draws.t)
    x_t, target = torch.cat([xw, xl]).to(device), torch.cat([vw, vl]).to(device)
    return x_t, torch.cat([draws.t, draws.t]).to(device), Conditioning.cat([cond, cond]), target


def preference_objective(
    model: WanVideoModel,
    data: TrainingSet,
    draws: Draws,
    cond: Conditioning,
    device,
    cfg: TrainConfig,
    reference: ReferenceFn,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DPO / Reg-DPO: winner and loser share noise and t, in one fused 2B forward."""
    x_t, t2, cond2, target = fused_pair_inputs(data, draws, cond, device)
    err_w, err_l = per_sample_error(model.velocity(x_t, t2, cond2), target).chunk(2)
    ref_w, ref_l = reference(x_t, t2, cond2, target, draws).to(err_w).chunk(2)
    r = 0.0 if cfg.method == "dpo" else cfg.r
    loss, stats = regdpo_loss(err_w, err_l, ref_w, ref_l, cfg.beta, r=r, r_scale=cfg.r_scale)
    stats |= bucket_accuracy((err_w - err_l) - (ref_w - ref_l), draws.t)
    return loss, stats

"""Training losses as pure functions of per-sample errors (docs/design.md).

Errors are per-sample means of squared velocity error, shape (B,). Winner (w) and loser (l)
of a pair share noise and timestep. `s` is the win gap minus the lose gap:

    s        = (e_w(theta) - e_l(theta)) - (e_w(ref) - e_l(ref))
    L_dpo    = -log sigmoid(-0.5 * beta * s)                   (Diffusion-DPO convention)
    DGR      = 0.5 * beta * (1 - sigmoid(-0.5 * beta * s))     (detached)
    L_regdpo = L_dpo + r * e_w(theta),  r = r_scale * DGR by default, or a constant
    L_sft    = e_w(theta)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def per_sample_error(v_pred: torch.Tensor, v_target: torch.Tensor) -> torch.Tensor:
    """e = mean((v - v_pred)^2) over every non-batch element: shape (B,)."""
    return (v_pred.float() - v_target.float()).pow(2).flatten(1).mean(dim=1)


def sft_loss(model_err_w: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Supervised flow matching on the winner (the ground truth) only."""
    loss = model_err_w.mean()
    return loss, {"loss": loss.item(), "sft": loss.item()}


def regdpo_loss(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    beta: float,
    r: float | None = None,
    r_scale: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Reg-DPO: DPO plus an SFT term on the winner weighted by r.

    Args:
        model_err_w, model_err_l: the trained model's errors on winners and losers, (B,).
        ref_err_w, ref_err_l: the reference model's errors on the same inputs, (B,).
        beta: DPO temperature (> 0); the paper uses 500.
        r: None for the dynamic r = r_scale * DGR (recomputed each step); a float for a fixed
            weight; 0.0 for plain Diffusion-DPO.
        r_scale: multiplies DGR when r is None.

    Returns:
        The batch-mean loss and batch-mean stats: loss, dpo, sft, dgr, log_dgr, r, s,
        win_gap, lose_gap, implicit_acc.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    win_gap = model_err_w - ref_err_w.detach()
    lose_gap = model_err_l - ref_err_l.detach()
    s = win_gap - lose_gap
    z = -0.5 * beta * s
    dpo = -F.logsigmoid(z)
    # DGR in log space first: at beta >= 500, 1 - sigmoid(z) underflows to 0 in float32.
    log_dgr = (math.log(0.5 * beta) + F.logsigmoid(-z)).detach()
    dgr = log_dgr.exp()
    weight = r_scale * dgr if r is None else torch.full_like(dgr, float(r))
    loss = (dpo + weight * model_err_w).mean()
    stats = {
        "loss": loss,
        "dpo": dpo.mean(),
        "sft": model_err_w.mean(),
        "dgr": dgr.mean(),
        "log_dgr": log_dgr.mean(),
        "r": weight.mean(),
        "s": s.mean(),
        "win_gap": win_gap.mean(),
        "lose_gap": lose_gap.mean(),
        "implicit_acc": implicit_hits(s).mean(),
    }
    return loss, {k: float(v.detach()) for k, v in stats.items()}


def dpo_loss(
    model_err_w: torch.Tensor,
    model_err_l: torch.Tensor,
    ref_err_w: torch.Tensor,
    ref_err_l: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Plain Diffusion-DPO (Reg-DPO with r = 0)."""
    return regdpo_loss(model_err_w, model_err_l, ref_err_w, ref_err_l, beta, r=0.0)


def implicit_hits(s: torch.Tensor) -> torch.Tensor:
    """1 where the model prefers the winner more than the reference does (s < 0), 0 where
    less, and a tie (s == 0: the model is the reference, as at step 0) half, as
    Diffusion-DPO counts it; otherwise a LoRA-off step 0 reads 0.0."""
    return (s < 0).float() + 0.5 * (s == 0).float()


def bucket_accuracy(
    s: torch.Tensor, t: torch.Tensor, buckets: int = 4
) -> dict[str, tuple[float, int]]:
    """Implicit accuracy (`implicit_hits`) per timestep bucket as (hits, count): acc_t0 for t in
    [0, 0.25), ... Counts, not means, so micro-batches pool exactly.

    Buckets with no sample in the batch are left out.
    """
    index = (t.clamp(0, 1 - 1e-6) * buckets).long().to(s.device)
    correct = implicit_hits(s.detach())
    return {
        f"acc_t{b}": (float(correct[index == b].sum()), int((index == b).sum()))
        for b in range(buckets)
        if (index == b).any()
    }

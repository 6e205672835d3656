import math

import pytest
import torch

from training.losses import dpo_loss, per_sample_error, regdpo_loss, sft_loss


def _errs(b=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [0.1 + 0.05 * torch.rand(b, generator=g) for _ in range(4)]


def test_at_theta_equal_ref_loss_is_ln2_dgr_is_beta_over_4_and_s_is_zero():
    w, l_, _, _ = _errs()
    for beta in (100.0, 500.0, 2000.0):
        loss, stats = regdpo_loss(w, l_, w.clone(), l_.clone(), beta=beta, r=0.0)
        assert loss.item() == pytest.approx(math.log(2), abs=1e-6)
        assert stats["dgr"] == pytest.approx(beta / 4, rel=1e-5)
        assert stats["s"] == 0 and stats["win_gap"] == 0 and stats["lose_gap"] == 0


def test_r_zero_is_dpo_and_gradients_match_the_papers_eq5():
    w, l_, rw, rl = _errs(b=1)
    beta = 500.0
    assert (
        regdpo_loss(w, l_, rw, rl, beta, r=0.0)[0].item() == dpo_loss(w, l_, rw, rl, beta)[0].item()
    )
    for r in (None, 0.0, 125.0):
        mw, ml = w.clone().requires_grad_(), l_.clone().requires_grad_()
        loss, stats = regdpo_loss(mw, ml, rw, rl, beta, r=r, r_scale=2.0)
        loss.backward()
        expected_r = 2.0 * stats["dgr"] if r is None else r
        assert mw.grad.item() == pytest.approx(stats["dgr"] + expected_r, rel=1e-5)
        assert ml.grad.item() == pytest.approx(-stats["dgr"], rel=1e-5)


def test_dgr_stays_positive_and_finite_where_float32_sigmoid_underflows():
    w, l_, rw, rl = (torch.tensor([x]) for x in (0.1, 0.5, 0.3, 0.3))  # s = -0.4
    _, stats = regdpo_loss(w, l_, rw, rl, beta=5000.0)
    assert stats["log_dgr"] < -900 and math.isfinite(stats["log_dgr"])
    assert stats["implicit_acc"] == 1.0


def test_a_tie_counts_half_in_implicit_accuracy():
    """At step 0 the model is its reference (s == 0 on every pair): 0.5, not 0."""
    from training.losses import bucket_accuracy

    e = torch.tensor([0.2, 0.3, 0.4, 0.5])
    _, stats = regdpo_loss(e, e, e, e, beta=500.0)
    assert stats["s"] == 0.0 and stats["implicit_acc"] == 0.5
    s = torch.tensor([-1.0, 0.0, 1.0, 0.0])
    assert bucket_accuracy(s, torch.tensor([0.1, 0.1, 0.9, 0.9]), buckets=2) == {
        "acc_t0": (1.5, 2),
        "acc_t1": (0.5, 2),
    }


def test_sft_and_per_sample_error_and_bad_beta():
    v = torch.zeros(2, 3, 4, 4, 4)
    target = torch.ones_like(v)
    target[1] *= 2
    assert per_sample_error(v, target).tolist() == [1.0, 4.0]
    assert sft_loss(torch.tensor([1.0, 3.0]))[0].item() == 2.0
    with pytest.raises(ValueError, match="beta"):
        regdpo_loss(*_errs(), beta=0.0)


def test_accuracy_per_timestep_quarter_pools_over_micro_batches():
    """With --grad-accum 2, a quarter drawn by one micro-batch only is not halved."""
    from training.losses import bucket_accuracy
    from training.trainer import pool_stats

    s = torch.tensor([-1.0, 1.0, -1.0])
    first = {"loss": 1.0, **bucket_accuracy(s, torch.tensor([0.1, 0.6, 0.6]))}
    second = {"loss": 3.0, **bucket_accuracy(-s, torch.tensor([0.6, 0.6, 0.9]))}
    assert first["acc_t0"] == (1.0, 1) and "acc_t0" not in second
    pooled = pool_stats([first, second])
    assert pooled == {"loss": 2.0, "acc_t0": 1.0, "acc_t2": 2 / 4, "acc_t3": 0.0}

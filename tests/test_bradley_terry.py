"""Bradley-Terry ratings as Chatbot Arena computes them: recovered from simulated battles,
equal to an independent logistic-regression fit, ties as half a win."""

import numpy as np
import pytest
from scipy.optimize import minimize

from workbench.ratings import (
    battle_table,
    bradley_terry,
    bradley_terry_ci,
    cohen_kappa,
    win_fractions,
)

TRUE = {"base": 1000.0, "sft": 1040.0, "dpo": 900.0, "regdpo": 1110.0}


def simulate(n: int, seed: int, tie_share: float = 0.0) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    models = list(TRUE)
    battles = []
    for _ in range(n):
        a, b = rng.choice(models, size=2, replace=False)
        p = 1 / (1 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        if rng.random() < tie_share:
            battles.append((a, b, "same"))
        else:
            battles.append((a, b, "good" if rng.random() < p else "bad"))
    return battles


def _centred(ratings: dict[str, float]) -> dict[str, float]:
    mean = np.mean(list(ratings.values()))
    return {m: r - mean + 1000 for m, r in ratings.items()}


def test_bootstrap_intervals_cover_the_ratings_that_generated_the_battles():
    rows = bradley_terry_ci(simulate(4000, seed=0), rounds=100)
    truth = _centred(TRUE)
    for row in rows:
        assert row["lower"] <= truth[row["model"]] <= row["upper"], row
    assert [r["model"] for r in rows] == ["regdpo", "sft", "base", "dpo"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert np.mean([r["rating"] for r in rows]) == pytest.approx(1000.0)


def test_ratings_equal_an_independent_logistic_regression_fit():
    battles = simulate(600, seed=1, tie_share=0.2)
    rows, counts = battle_table(battles)
    models = sorted(TRUE)
    ours = bradley_terry(rows, counts, models)
    # Plain logistic regression: P(A wins) = sigmoid(ln 10 (r_a - r_b)), ties as y = 0.5,
    # fitted by a generic optimiser on the negative log-likelihood.
    idx = {m: i for i, m in enumerate(models)}
    a = np.array([idx[r[0]] for r in rows])
    b = np.array([idx[r[1]] for r in rows])
    y = np.array([r[2] for r in rows])

    def nll(r):
        z = np.log(10) * (r[a] - r[b])
        return -np.sum(counts * (y * -np.logaddexp(0, -z) + (1 - y) * -np.logaddexp(0, z)))

    fit = minimize(nll, np.zeros(len(models)), method="BFGS", options={"gtol": 1e-10}).x
    theirs = 400 * (fit - fit.mean()) + 1000
    assert np.abs(ours - theirs).max() < 1e-3


def test_ties_count_half_and_can_be_left_out():
    battles = [("a", "b", "good"), ("a", "b", "same"), ("a", "b", "both_bad"), ("b", "a", "bad")]
    rows, counts = battle_table(battles)
    assert dict(zip(rows, counts, strict=True)) == {
        ("a", "b", 1.0): 1,
        ("a", "b", 0.5): 2,
        ("b", "a", 0.0): 1,
    }
    rows, counts = battle_table(battles, ties=False)
    assert len(rows) == 2 and counts.sum() == 2
    models, share = win_fractions(battles)
    assert models == ["a", "b"] and share[0, 1] == pytest.approx((1 + 0.5 + 0.5 + 1) / 4)
    assert share[0, 1] + share[1, 0] == pytest.approx(1.0) and np.isnan(share[0, 0])
    with pytest.raises(ValueError, match="unknown battle outcome"):
        battle_table([("a", "b", "great")])


def test_cohen_kappa_by_hand():
    assert cohen_kappa(["good", "bad"] * 5, ["good", "bad"] * 5) == 1.0
    # observed 0.5; both raters 50/50 on two labels: expected 0.5 -> kappa 0.
    assert cohen_kappa(["good", "good", "bad", "bad"], ["good", "bad", "good", "bad"]) == 0.0

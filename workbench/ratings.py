"""Pairwise ratings as pure functions over plain data: outcomes in, scores and intervals out.

GSB (the paper's protocol): for A against B, Good = A better, Same, Bad = A worse;
Score = (Good + Same) / (Same + Bad), above 1 when A wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OUTCOMES = ("good", "same", "bad")
TIE_MARGIN = 0.02
"""Judge scores of two videos closer than this are a tie (Same) in automatic GSB."""


def gsb_score(good: int, same: int, bad: int) -> float:
    """(G + S) / (S + B); infinite when A is never worse nor tied."""
    return (good + same) / (same + bad) if same + bad else float("inf")


def gsb_counts(outcomes: Sequence[str]) -> tuple[int, int, int]:
    unknown = sorted(set(outcomes) - set(OUTCOMES))
    if unknown:
        raise ValueError(f"unknown GSB outcomes {unknown}; expected {OUTCOMES}")
    return tuple(sum(o == k for o in outcomes) for k in OUTCOMES)  # type: ignore[return-value]


def outcomes_from_scores(
    a: Sequence[float], b: Sequence[float], margin: float, higher_is_better: bool = True
) -> list[str]:
    """A judge's paired scores as GSB outcomes: differences within `margin` are Same."""
    sign = 1.0 if higher_is_better else -1.0
    out = []
    for x, y in zip(a, b, strict=True):
        d = sign * (x - y)
        out.append("same" if abs(d) <= margin else "good" if d > 0 else "bad")
    return out


def win_rate(good: int, same: int, bad: int) -> float:
    """(G + S / 2) / N: the bounded companion of the GSB score (ties count half)."""
    n = good + same + bad
    return (good + same / 2) / n if n else float("nan")


def format_gsb_score(score: float) -> str:
    """The GSB score as people read it; infinite means A was never tied nor worse."""
    return "∞ (no S or B)" if np.isinf(score) else f"{score:.2f}"


def gsb_bootstrap_ci(
    outcomes: Sequence[str], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the GSB score, resampling the compared prompts."""
    if not outcomes:
        return (float("nan"), float("nan"))
    good, same, bad = _resampled_counts(outcomes, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(same + bad > 0, (good + same) / np.maximum(same + bad, 1), np.inf)
    return _interval(scores, alpha)


def win_rate_bootstrap_ci(
    outcomes: Sequence[str], n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the win rate, from the same resamples as the score."""
    if not outcomes:
        return (float("nan"), float("nan"))
    good, same, bad = _resampled_counts(outcomes, n_boot, seed)
    return _interval((good + same / 2) / len(outcomes), alpha)


def _resampled_counts(
    outcomes: Sequence[str], n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(good, same, bad) counts of n_boot resamples of the outcomes, with replacement."""
    codes = np.array([OUTCOMES.index(o) for o in outcomes], dtype=int)
    rng = np.random.default_rng(seed)
    samples = codes[rng.integers(0, len(codes), size=(n_boot, len(codes)))]
    return tuple((samples == k).sum(axis=1) for k in range(3))  # type: ignore[return-value]


def _interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    # 'nearest' keeps an infinite score (A never worse nor tied) instead of interpolating NaN.
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2], method="nearest")
    return float(lo), float(hi)


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    margin: float,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, float | str]:
    """A against B over the same prompts: the mean per-prompt difference with a percentile
    bootstrap interval, and a two-sided sign test over the prompts one side wins by more
    than `margin` (ties dropped). The verdict says "no detectable difference" unless the
    interval excludes 0, so 5 / 35 / 8 is read as what it is."""
    from scipy.stats import binomtest

    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(diff) == 0:
        nan = float("nan")
        return {
            "mean_diff": nan,
            "diff_lo": nan,
            "diff_hi": nan,
            "sign_p": nan,
            "n": 0,
            "verdict": "no data",
        }
    rng = np.random.default_rng(seed)
    boot = diff[rng.integers(len(diff), size=(n_boot, len(diff)))].mean(axis=1)
    lo, hi = _interval(boot, alpha)
    wins, losses = int((diff > margin).sum()), int((diff < -margin).sum())
    p = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
    verdict = "A better" if lo > 0 else "B better" if hi < 0 else "no detectable difference"
    return {
        "mean_diff": float(diff.mean()),
        "diff_lo": lo,
        "diff_hi": hi,
        "sign_p": float(p),
        "n": len(diff),
        "verdict": verdict,
    }


# -- Bradley-Terry ratings (Chatbot Arena's recipe) -----------------------------------------
#
# Followed from FastChat (fastchat/serve/monitor/elo_analysis.py, `compute_mle_elo` and the
# bootstrap over battle outcomes): a logistic fit of outcome ~ ln(10) (r_a - r_b), a tie
# counted as half a win for each side, rating = 400 r + 1000 (ratings are centred, so their
# mean is 1000), a multinomial bootstrap over the distinct battle outcomes, and the rank a
# model gets is 1 + the number of models whose lower bound is above its upper bound.

Battle = tuple[str, str, str]  # (source A, source B, outcome of A against B)
TIE_OUTCOMES = ("same", "both_bad")
# A battle outcome as A's share of the win: a tie is half a win for each side.
OUTCOME_SCORE = {"good": 1.0, "same": 0.5, "both_bad": 0.5, "bad": 0.0}
RIDGE = 1e-6  # per unit r^2; see bradley_terry


def battle_table(battles: Sequence[Battle], ties: bool = True):
    """Distinct (a, b, y) rows and their counts; y is 1 (A won), 0 (B won) or 0.5 (a tie).
    Without `ties`, tied battles are left out."""
    counts: dict[tuple[str, str, float], int] = {}
    for a, b, outcome in battles:
        if outcome not in OUTCOME_SCORE:
            raise ValueError(f"unknown battle outcome {outcome!r}")
        if outcome in TIE_OUTCOMES and not ties:
            continue
        y = OUTCOME_SCORE[outcome]
        counts[(a, b, y)] = counts.get((a, b, y), 0) + 1
    return list(counts), np.array(list(counts.values()), dtype=float)


def bradley_terry(
    rows: list[tuple[str, str, float]], weights: np.ndarray, models: list[str]
) -> np.ndarray:
    """Ratings (400 r + 1000, mean 1000) maximising the weighted likelihood of the rows.

    A source that won (or lost) every battle has no finite maximum-likelihood rating; a
    vanishing L2 term (RIDGE) keeps the fit finite there and moves ratings that do have a
    maximum by far less than 1e-3 points.
    """
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[r[0]] for r in rows])
    b = np.array([index[r[1]] for r in rows])
    y = np.array([r[2] for r in rows])
    n, k = len(models), np.log(10.0)
    r = np.zeros(n)
    for _ in range(200):  # damped Newton steps on the centred ratings
        p = 1 / (1 + np.exp(-k * (r[a] - r[b])))
        g = weights * k * (y - p)
        grad = np.bincount(a, g, n) - np.bincount(b, g, n) - 2 * RIDGE * r
        w = weights * k * k * p * (1 - p)
        hess = np.diag(np.bincount(a, w, n) + np.bincount(b, w, n) + 2 * RIDGE)
        np.add.at(hess, (a, b), -w)
        np.add.at(hess, (b, a), -w)
        step = np.linalg.solve(hess + np.ones((n, n)) / n, grad)  # the shift is fixed by centring
        step *= min(1.0, 1.0 / np.abs(step).max()) if step.any() else 1.0
        r += step - step.mean()
        if np.abs(step).max() < 1e-9:
            break
    return 400 * r + 1000


def bradley_terry_ci(
    battles: Sequence[Battle],
    ties: bool = True,
    rounds: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
) -> list[dict]:
    """Per model: rating, bootstrap interval and rank, best first."""
    rows, counts = battle_table(battles, ties)
    if not rows:
        return []
    models = sorted({m for r in rows for m in r[:2]})
    rating = bradley_terry(rows, counts, models)
    rng = np.random.default_rng(seed)
    total = int(counts.sum())
    samples = np.array(
        [bradley_terry(rows, rng.multinomial(total, counts / total), models) for _ in range(rounds)]
    )
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2], axis=0)
    out = [
        {
            "model": m,
            "rating": float(rating[i]),
            "lower": float(lo[i]),
            "upper": float(hi[i]),
            "battles": int(sum(c for r, c in zip(rows, counts, strict=True) if m in r[:2])),
        }
        for i, m in enumerate(models)
    ]
    for row in out:
        row["rank"] = 1 + sum(other["lower"] > row["upper"] for other in out)
    return sorted(out, key=lambda r: -r["rating"])


def win_fractions(battles: Sequence[Battle]) -> tuple[list[str], np.ndarray]:
    """Models and the matrix of how often the row model beat the column model (ties count
    half; NaN where they never met)."""
    models = sorted({m for a, b, _ in battles for m in (a, b)})
    index = {m: i for i, m in enumerate(models)}
    won = np.zeros((len(models), len(models)))
    met = np.zeros_like(won)
    for a, b, outcome in battles:
        score = OUTCOME_SCORE[outcome]
        i, j = index[a], index[b]
        won[i, j] += score
        won[j, i] += 1 - score
        met[i, j] += 1
        met[j, i] += 1
    with np.errstate(invalid="ignore"):
        return models, np.where(met > 0, won / np.maximum(met, 1), np.nan)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Agreement beyond chance between two raters' labels of the same items."""
    if len(first) != len(second) or not first:
        raise ValueError("kappa needs two equally long, non-empty label lists")
    labels = sorted(set(first) | set(second))
    observed = np.mean([x == y for x, y in zip(first, second, strict=True)])
    p1 = np.array([list(first).count(c) for c in labels]) / len(first)
    p2 = np.array([list(second).count(c) for c in labels]) / len(second)
    expected = float(p1 @ p2)
    return 1.0 if expected == 1.0 else float((observed - expected) / (1 - expected))


def mean_interval(values: Sequence[float], alpha: float = 0.05) -> tuple[float, float]:
    """Mean and the half-width of its Student-t interval (seeds are few): NaN half-width
    for a single value."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else float("nan"), float("nan")
    return float(x.mean()), float(
        t.ppf(1 - alpha / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    )

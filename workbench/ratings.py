"""Pairwise ratings as pure functions over plain data: outcomes in, scores and intervals out.

GSB (the paper's protocol): for A against B, Good = A better, Same, Bad = A worse;
Score = (Good + Same) / (Same + Bad), above 1 when A wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

OUTCOMES = ("good", "same", "bad")


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
    return _interval((good + same / 2) / max(len(outcomes), 1), alpha)


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

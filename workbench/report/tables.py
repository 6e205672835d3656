"""The report's tables as pure functions over plain data (scores in, rows out), FastChat's
style: GSB with its intervals, VBench's rank-sum Total and Quality score, the seeds, splits and
preference-data tables. `workbench.report.report_tables` feeds them from the store, for
`workbench report` and the app's Leaderboard alike."""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from workbench.ratings import (
    format_gsb_score,
    gsb_bootstrap_ci,
    gsb_counts,
    gsb_score,
    mean_interval,
    outcomes_from_scores,
    paired_difference,
    win_rate,
    win_rate_bootstrap_ci,
)

Scores = dict[str, dict[str, dict[tuple[str, str], float]]]  # ckpt -> sample -> key -> value

# Which (judge, dimension) stands for the paper's two GSB aspects, in order of preference: the
# shapes oracle where it can judge, VideoReward's VQ and TA on real videos.
ASPECT_JUDGES = {
    "VQ": [("shapes-vq", "overall"), ("videoreward", "vq")],
    "PF": [("shapes-pf", "overall"), ("videoreward", "ta")],
}


VBENCH_DIMENSIONS = (
    "subject_consistency",
    "background_consistency",
    "motion_smoothness",
    "dynamic_degree",
    "aesthetic_quality",
    "imaging_quality",
    "temporal_flickering",
)


# VBench's normalisation (scripts/constant.py): (score - Min) / (Max - Min), then a weighted
# mean over the quality dimensions, dynamic degree at half weight.
VBENCH_NORMALIZE = {
    "subject_consistency": (0.1462, 1.0),
    "background_consistency": (0.2615, 1.0),
    "temporal_flickering": (0.6293, 1.0),
    "motion_smoothness": (0.706, 0.9975),
    "dynamic_degree": (0.0, 1.0),
    "aesthetic_quality": (0.0, 1.0),
    "imaging_quality": (0.0, 1.0),
}


VBENCH_WEIGHT = {"dynamic_degree": 0.5}


OFFICIAL = "vbench-official"  # results of the official package, ingested by `eval`


# Native sources of each dimension after the official one: (judge, stored dimension, exact).
# Not exact = not VBench's procedure (temporal flickering without its static filter): shown,
# labelled, and kept out of VBench's normalised Quality score.
NATIVE_VBENCH = {
    "subject_consistency": [("vbench-dino", "subject_consistency", True)],
    "background_consistency": [("vbench-clip", "background_consistency", True)],
    "motion_smoothness": [],  # AMT: ingest-only
    "dynamic_degree": [("vbench-raft", "dynamic_degree", True)],
    "aesthetic_quality": [("vbench-clip", "aesthetic_quality", True)],
    "imaging_quality": [("vbench-musiq", "imaging_quality", True)],
    "temporal_flickering": [
        ("vbench-raft", "temporal_flickering", True),
        ("vbench", "temporal_flickering_unfiltered", False),
    ],
}


SEEDED = re.compile(r"^(?P<method>.+)-s(?P<seed>\d+)$")  # fine-tunes of `--seeds N` studies
PAPER_METHOD = "regdpo"  # Reg-DPO on GT-Pairs: the paper study's name for it (seed 0)


# The judges the seed, split and preference-data tables show, under their short names.
HEADLINE = (
    ("shapes-pf", "overall", "PF"),
    ("shapes-pf", "shape", "shape"),
    ("shapes-pf", "motion", "motion"),
    ("shapes-vq", "overall", "VQ"),
    ("technical", "overall", "technical"),
)


def reference_last(scores: Scores, reference: str | None) -> Scores:
    """The same scores with `reference` last, so every GSB row that involves it reads
    "X vs reference" (gsb_rows puts the earlier source on the A side)."""
    return {k: v for k, v in scores.items() if k != reference} | (
        {reference: scores[reference]} if reference in scores else {}
    )


def gsb_rows(scores: Scores, margin: float, seed: int = 0) -> list[dict[str, Any]]:
    """Automatic GSB for every pair of checkpoints, per aspect, over the samples both have
    scored on that aspect, with 95% bootstrap intervals of the score and the win rate."""
    rows = []
    for a, b in itertools.combinations(scores, 2):
        for aspect, keys in ASPECT_JUDGES.items():
            for key in keys:  # the first judge that scored shared samples stands for the aspect
                shared = [
                    s for s in scores[a] if key in scores[a][s] and key in scores[b].get(s, {})
                ]
                if shared:
                    break
            else:
                continue
            values = [scores[a][s][key] for s in shared], [scores[b][s][key] for s in shared]
            outcomes = outcomes_from_scores(*values, margin)
            paired = paired_difference(*values, margin, seed=seed)
            rows.append(gsb_row(a, b, aspect, key[0], outcomes, seed, paired))
    return rows


def gsb_row(
    a: str,
    b: str,
    aspect: str,
    judge: str,
    outcomes: list[str],
    seed: int = 0,
    paired: dict | None = None,
) -> dict:
    """GSB counts of A against B, the score and the win rate with 95% bootstrap intervals,
    and (judges, who score every prompt) the paired test of `paired_difference`."""
    g, s, bad = gsb_counts(outcomes)
    return {
        "A": a,
        "B": b,
        "aspect": aspect,
        "judge": judge,
        "good": g,
        "same": s,
        "bad": bad,
        "score": gsb_score(g, s, bad),
        "score_ci": gsb_bootstrap_ci(outcomes, seed=seed),
        "win_rate": win_rate(g, s, bad),
        "win_rate_ci": win_rate_bootstrap_ci(outcomes, seed=seed),
        **({"paired": paired} if paired else {}),
    }


def gsb_table(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """GSB rows as people read them: an infinite score is said, never printed as inf."""
    return [_gsb_cells(r) for r in rows]


def _gsb_cells(r: dict[str, Any]) -> dict[str, str]:
    score_ci = "-".join(_ci_bound(v) for v in r["score_ci"])
    rate_ci = "-".join(f"{v:.2f}" for v in r["win_rate_ci"])
    cells = {
        "A vs B": f"{r['A']} vs {r['B']}",
        "aspect": r["aspect"],
        "G/S/B": f"{r['good']}/{r['same']}/{r['bad']}",
        "score (95% CI)": f"{format_gsb_score(r['score'])} ({score_ci})",
        "win rate (95% CI)": f"{r['win_rate']:.2f} ({rate_ci})",
    }
    if "paired" in r:  # judges score every prompt: the paired test beside GSB
        p = r["paired"]
        cells["mean diff (95% CI)"] = (
            f"{p['mean_diff']:+.3f} ({p['diff_lo']:+.3f} to {p['diff_hi']:+.3f})"
        )
        cells["sign p"] = f"{p['sign_p']:.3f}"
        cells["verdict"] = p["verdict"]
    return cells


def _ci_bound(value: float) -> str:
    return "∞" if np.isinf(value) else f"{value:.2f}"


def vbench_sources(scores: Scores) -> dict[str, tuple[str, str, bool]]:
    """Per VBench dimension, the best source that scored it for every checkpoint (official
    results before native judges); a dimension no source covers for all is left out."""
    chosen = {}
    for dim in VBENCH_DIMENSIONS:
        for judge, key, exact in [(OFFICIAL, dim, True), *NATIVE_VBENCH[dim]]:
            if scores and all(_has(per, (judge, key)) for per in scores.values()):
                chosen[dim] = (judge, key, exact)
                break
    return chosen


def vbench_rows(scores: Scores) -> tuple[list[dict[str, Any]], list[str]]:
    """Per checkpoint mean of each VBench dimension (the column names its source) and the
    paper's rank-sum Total over the dimensions present.

    Returns the rows and the dimensions that are missing (never counted as 0).
    """
    sources = vbench_sources(scores)
    means = {c: {d: mean_score(per, sources[d][:2]) for d in sources} for c, per in scores.items()}
    totals = dict.fromkeys(means, 0.0)
    for d in sources:  # the best of n groups gets n points, the worst 1; ties share
        values = [m[d] for m in means.values()]
        for c in means:
            below = sum(v < means[c][d] for v in values)
            totals[c] += 1 + below + (sum(v == means[c][d] for v in values) - 1) / 2
    rows = []
    for c in means:
        row = {"checkpoint": c}
        row.update({_column(d, sources[d]): means[c][d] for d in sources})
        row["Total (rank sum)"] = totals[c]
        row["VBench Quality"] = _quality_cell(means[c], sources)
        rows.append(row)
    return rows, [d for d in VBENCH_DIMENSIONS if d not in sources]


def _column(dim: str, source: tuple[str, str, bool]) -> str:
    judge, _, exact = source
    return f"{dim} [{judge}{'' if exact else ', no static filter'}]"


def _quality_cell(means: dict[str, float], sources: dict) -> float | str:
    inexact = [d for d, (_, _, exact) in sources.items() if not exact]
    if inexact:
        return f"n/a (not VBench's procedure: {', '.join(inexact)})"
    quality = vbench_quality_score(means)
    return "n/a (missing dims)" if quality is None else quality


def vbench_quality_score(means: dict[str, float]) -> float | None:
    """VBench's normalised Quality score; None unless every quality dimension is present."""
    if any(np.isnan(means.get(d, np.nan)) for d in VBENCH_NORMALIZE):
        return None
    total = weights = 0.0
    for dim, (lo, hi) in VBENCH_NORMALIZE.items():
        w = VBENCH_WEIGHT.get(dim, 1.0)
        total += w * (means[dim] - lo) / (hi - lo)
        weights += w
    return total / weights


def _has(per_sample: dict[str, dict], key: tuple[str, str]) -> bool:
    return any(key in v for v in per_sample.values())


def aspect_key(per_sample: dict[str, dict], aspect: str) -> tuple[str, str]:
    """The (judge, dimension) standing for `aspect` in one source's scores: the first of
    ASPECT_JUDGES it has (the shapes oracle, else VideoReward), else the first."""
    keys = ASPECT_JUDGES[aspect]
    return next((k for k in keys if any(k in v for v in per_sample.values())), keys[0])


def mean_score(per_sample: dict[str, dict], key: tuple[str, str]) -> float:
    """One source's mean of one judge dimension over the samples it scored (NaN: none)."""
    values = [v[key] for v in per_sample.values() if key in v]
    return float(np.mean(values)) if values else float("nan")


def headline(per_sample: dict[str, dict]) -> dict[str, float]:
    """The headline judges' means over one source's samples, by short name."""
    return {label: mean_score(per_sample, (judge, dim)) for judge, dim, label in HEADLINE}


def win_rates(scores: Scores, name: str, baseline: str, margin: float) -> dict[str, float]:
    """aspect -> the win rate of `name` against `baseline` (as in the GSB table)."""
    pair = {name: scores[name], baseline: scores[baseline]}
    return {r["aspect"]: r["win_rate"] for r in gsb_rows(pair, margin)}


def seed_groups(names: list[str]) -> dict[str, list[str]]:
    """method -> its checkpoints named <method>-s<seed>, for methods with two or more. A plain
    <method> beside <method>-s1, ... is its seed 0 (the study names seed 0 so, and adds
    seeds to a finished one-seed study without renaming it)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        match = SEEDED.match(name)
        if match:
            groups.setdefault(match["method"], []).append(name)
    for method, members in groups.items():
        members.sort(key=lambda name: int(SEEDED.match(name)["seed"]))  # seed i meets seed i
        if method in names and f"{method}-s0" not in members:
            members.insert(0, method)
    return {m: n for m, n in groups.items() if len(n) > 1}


def seed_comparison(
    scores: Scores, names: list[str], against: list[str], margin: float
) -> dict[str, dict[str, Any]]:
    """Per aspect, fine-tunes of several seeds against one source per seed (or one for all):
    the win rate as mean +- t half-width over seeds, and the paired test over the prompts
    every seed scored, on the per-prompt difference averaged over seeds (so the verdict
    rests on prompts x seeds)."""
    against = against * len(names) if len(against) == 1 else against
    out = {}
    for aspect in ASPECT_JUDGES:
        key = aspect_key(scores[names[0]], aspect)
        pairs = list(zip(names, against, strict=True))
        prompts = set.intersection(
            *(
                {p for p in scores[a] if key in scores[a][p] and key in scores[b].get(p, {})}
                for a, b in pairs
            )
        )
        if not prompts:
            continue
        prompts = sorted(prompts)
        mine = np.mean([[scores[a][p][key] for p in prompts] for a, _ in pairs], axis=0)
        theirs = np.mean([[scores[b][p][key] for p in prompts] for _, b in pairs], axis=0)
        rates = [win_rates(scores, a, b, margin).get(aspect, np.nan) for a, b in pairs]
        out[aspect] = {
            "win_rate": _plus_minus(rates),
            "seeds": len(pairs),
            "prompts": len(prompts),
            "paired": paired_difference(mine, theirs, margin),
        }
    return out


def seed_rows(scores: Scores, baseline: str, margin: float) -> list[dict[str, Any]]:
    """Per method trained with several seeds: each judge's mean over seeds, and against
    `baseline` per aspect the win rate (mean +- the 95% Student-t half-width across seeds)
    and the paired verdict over prompts x seeds (`seed_comparison`); against Reg-DPO on
    GT-Pairs too, seed for seed, where it was trained with as many seeds."""
    groups = seed_groups(list(scores))
    rows = []
    for method, names in groups.items():
        row: dict[str, Any] = {"method": method, "seeds": len(names)}
        means = [headline(scores[n]) for n in names]
        row |= {label: _plus_minus([m[label] for m in means]) for _, _, label in HEADLINE}
        against = {baseline: [baseline]} if baseline in scores else {}
        paper = groups.get(PAPER_METHOD, [])
        if method != PAPER_METHOD and len(paper) == len(names):
            against[PAPER_METHOD] = paper
        for other, theirs in against.items():
            for aspect, c in seed_comparison(scores, names, theirs, margin).items():
                row[f"{aspect} win rate vs {other}"] = c["win_rate"]
                row[f"{aspect} vs {other}"] = power_words(c["paired"], method, other, c["seeds"])
        rows.append(row)
    return rows


def power_words(paired: dict[str, Any], a: str, b: str, seeds: int = 1) -> str:
    """A against B as people should read it: the mean per-prompt difference with its
    interval, what it rests on, and whether the interval excludes no difference."""
    if paired["n"] == 0:
        return "no data"
    return (
        f"{paired['mean_diff']:+.3f} ({paired['diff_lo']:+.3f} to {paired['diff_hi']:+.3f}) "
        f"{verdict_words(paired, a, b, seeds)}"
    )


def verdict_words(paired: dict[str, Any], a: str, b: str, seeds: int = 1) -> str:
    """ "on 48 prompts: regdpo better" (or "... no detectable difference")."""
    on = f"{paired['n']} prompts" + (f" x {seeds} seeds" if seeds > 1 else "")
    verdict = {"A better": f"{a} better", "B better": f"{b} better"}.get(
        paired["verdict"], paired["verdict"]
    )
    return f"on {on}: {verdict}"


def _plus_minus(values: list[float]) -> str:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "n/a"
    mean, half = mean_interval(values)
    return f"{mean:.3f} ± {half:.3f}"


def split_rows(heldout: dict[str, bool], scores: Scores) -> list[dict[str, Any]]:
    """Per checkpoint, the headline judges on in-distribution prompts and, apart, on the
    attribute combinations training never showed (`heldout`: sample -> held out)."""
    out = []
    for ckpt, per in scores.items():
        for label, flag in (("in-distribution", False), ("held-out combinations", True)):
            part = {s: v for s, v in per.items() if heldout.get(s) is flag}
            if part:
                out.append(
                    {"checkpoint": ckpt, "prompts": f"{label} ({len(part)})", **headline(part)}
                )
    return out


def pairs_rows(
    trained: list[dict[str, str]], scores: Scores, baseline: str, margin: float
) -> list[dict]:
    """The paper's Table 1 shape: each preference fine-tune (`trained`: name, method and
    the pair set's label and cost, `queries.trained_on`) with its headline judges and its win
    rates (95% bootstrap intervals) against `baseline` and against Reg-DPO on GT-Pairs of the
    same seed."""
    out = []
    for r in trained:
        name = r["name"]
        row = {"checkpoint": name, "method": r["method"], "pairs": r["pairs"]}
        row |= {"cost per pair": r["cost per pair"], **headline(scores[name])}
        paper = paper_counterpart(name)
        for other, label in {baseline: baseline, paper: f"{PAPER_METHOD} of its seed"}.items():
            if other in scores and other != name:
                for g in gsb_rows({name: scores[name], other: scores[other]}, margin):
                    low, high = g["win_rate_ci"]
                    row[f"{g['aspect']} win rate vs {label}"] = (
                        f"{g['win_rate']:.2f} ({low:.2f}-{high:.2f})"
                    )
        out.append(row)
    return out


def paper_counterpart(name: str) -> str:
    """Reg-DPO on GT-Pairs with the seed of the fine-tune `name` (<...>-s<seed>, else 0)."""
    match = SEEDED.match(name)
    seed = int(match["seed"]) if match else 0
    return PAPER_METHOD if seed == 0 else f"{PAPER_METHOD}-s{seed}"


def judge_rows(scores: dict[str, dict[str, dict]]) -> list[dict[str, Any]]:
    keys = sorted({k for per in scores.values() for v in per.values() for k in v})
    return [
        {
            "judge / dimension": f"{j} / {d}",
            **{c: mean_score(per, (j, d)) for c, per in scores.items()},
        }
        for j, d in keys
    ]

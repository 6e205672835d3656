"""Human ratings and agreement from the stored votes: GSB per pair of sources, Bradley-Terry
ratings, win fractions, and how humans agree with GT-Pair, the judges and each other.

Plain functions from the store to rows; the maths lives in workbench.ratings and the GSB row
format is the report's (one implementation for the app and `workbench report`).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from workbench.battles import ASPECTS, vote_rows
from workbench.pairsets.gtpair import gtpair_generators
from workbench.ratings import (
    TIE_MARGIN,
    Battle,
    bradley_terry_ci,
    cohen_kappa,
    outcomes_from_scores,
    win_fractions,
)
from workbench.report.queries import newest_scores
from workbench.report.tables import (
    ASPECT_JUDGES,
    Scores,
    aspect_key,
    gsb_row,
    mean_score,
    verdict_words,
)
from workbench.sources import GROUND_TRUTH
from workbench.store import Store

FLIP = {"good": "bad", "bad": "good", "same": "same", "both_bad": "both_bad"}


def _gsb_outcome(outcome: str) -> str:
    return "same" if outcome == "both_bad" else outcome


def human_battles(store: Store, aspect: str) -> list[Battle]:
    """(source A, source B, outcome) of every vote on a battle between two sources."""
    return [
        (v["source_a"], v["source_b"], v["outcome"])
        for v in vote_rows(store, "checkpoints")
        if v["aspect"] == aspect
    ]


def human_gsb_rows(
    store: Store, seed: int = 0, reference: str | None = None
) -> list[dict[str, Any]]:
    """GSB per pair of sources and aspect from the votes ('both bad' counts as Same); a pair
    with `reference` reads "X vs reference", others in name order."""
    rows = []
    for aspect in ASPECTS:
        by_pair: dict[tuple[str, str], list[str]] = {}
        for a, b, outcome in human_battles(store, aspect):
            first, second = sorted((a, b), key=lambda name: (name == reference, name))
            by_pair.setdefault((first, second), []).append(
                _gsb_outcome(outcome if a == first else FLIP[outcome])
            )
        rows += [
            gsb_row(a, b, aspect.upper(), "human", outcomes, seed)
            for (a, b), outcomes in sorted(by_pair.items())
        ]
    return rows


def rating_rows(store: Store, aspect: str, ties: bool, seed: int = 0) -> list[dict[str, Any]]:
    return bradley_terry_ci(human_battles(store, aspect), ties=ties, seed=seed)


def glance_rows(
    scores: Scores, gsb: list[dict[str, Any]], ratings: dict[str, list[dict]], reference: str
) -> list[dict[str, Any]]:
    """The Leaderboard's first table, one row per source: mean PF and VQ (the shapes
    judges), the judges' win rate against `reference` with its 95% bootstrap interval (from
    `gsb`, the automatic GSB rows, "X vs reference" as `reference_last` orders them), and per
    aspect the judges' rank (by mean) beside the human Bradley-Terry rank (`ratings`: aspect
    -> bradley_terry_ci rows; '-' where nobody voted on that source)."""
    means = {
        src: {a: mean_score(per, aspect_key(per, a)) for a in ASPECT_JUDGES}
        for src, per in scores.items()
    }
    versus = {(r["A"], r["aspect"]): r for r in gsb if r["B"] == reference}
    human = {a: {h["model"]: h["rank"] for h in ratings.get(a.lower(), [])} for a in ASPECT_JUDGES}
    rows = []
    for src in scores:
        row: dict[str, Any] = {"source": src, **{a: means[src][a] for a in ASPECT_JUDGES}}
        for aspect in ASPECT_JUDGES:
            r = versus.get((src, aspect))
            row[f"{aspect} win rate vs {reference}"] = (
                f"{r['win_rate']:.2f} ({r['win_rate_ci'][0]:.2f}-{r['win_rate_ci'][1]:.2f}) "
                + verdict_words(r["paired"], src, reference)
                if r
                else "-"
            )
        for aspect in ASPECT_JUDGES:
            finite = [m[aspect] for m in means.values() if np.isfinite(m[aspect])]
            mine = means[src][aspect]
            row[f"{aspect} rank: judges"] = (
                1 + sum(m > mine for m in finite) if np.isfinite(mine) else "-"
            )
            row[f"{aspect} rank: humans"] = human[aspect].get(src, "-")
        rows.append(row)
    return rows


def win_fraction_table(store: Store, aspect: str) -> tuple[list[str], np.ndarray]:
    return win_fractions(human_battles(store, aspect))


def gt_pair_agreement(store: Store) -> list[dict[str, Any]]:
    """Per aspect: of the votes between the real video ('gt') and a generator that GT-Pair
    used as the loser source, how often people preferred the real video."""
    losers = gtpair_generators(store)
    rows = []
    for aspect in ASPECTS:
        picks = []
        for a, b, outcome in human_battles(store, aspect):
            if GROUND_TRUTH in (a, b) and ({a, b} - {GROUND_TRUTH}) <= losers:
                picks.append(outcome if a == GROUND_TRUTH else FLIP[outcome])
        if picks:
            rows.append(
                {
                    "aspect": aspect.upper(),
                    "votes": len(picks),
                    "prefer real": picks.count("good") / len(picks),
                    "same / both bad": sum(p in ("same", "both_bad") for p in picks) / len(picks),
                    "prefer rollout": picks.count("bad") / len(picks),
                }
            )
    return rows


def judge_agreement(store: Store, margin: float = TIE_MARGIN) -> list[dict[str, Any]]:
    """Human votes against each automatic judge's verdict on the same two videos (the judge
    standing for the aspect, newest version): accuracy with ties, without ties (both sides
    decided), and Cohen's kappa over good / same / bad."""
    votes = vote_rows(store)
    scores = newest_scores(store, sorted({v[k] for v in votes for k in ("video_a", "video_b")}))
    rows = []
    for aspect in ASPECTS:
        for judge, dimension in ASPECT_JUDGES[aspect.upper()]:
            human, machine = [], []
            for v in votes:
                if v["aspect"] != aspect:
                    continue
                a = scores.get(v["video_a"], {}).get((judge, dimension))
                b = scores.get(v["video_b"], {}).get((judge, dimension))
                if a is not None and b is not None:
                    human.append(_gsb_outcome(v["outcome"]))
                    machine.append(outcomes_from_scores([a], [b], margin)[0])
            if human:
                decided = [
                    (h, m) for h, m in zip(human, machine, strict=True) if "same" not in (h, m)
                ]
                rows.append(
                    {
                        "aspect": aspect.upper(),
                        "judge": f"{judge} / {dimension}",
                        "votes": len(human),
                        "accuracy": float(
                            np.mean([h == m for h, m in zip(human, machine, strict=True)])
                        ),
                        "accuracy without ties": float(np.mean([h == m for h, m in decided]))
                        if decided
                        else float("nan"),
                        "kappa": cohen_kappa(human, machine),
                    }
                )
    return rows


def annotator_agreement(store: Store) -> list[dict[str, Any]]:
    """Per aspect, over battles on the same two videos judged by two or more people: the
    share of annotator pairs that agree and Cohen's kappa over those pairs."""
    votes = vote_rows(store)
    rows = []
    for aspect in ASPECTS:
        labels: dict[tuple[str, str, str], dict[str, str]] = {}
        for v in votes:
            if v["aspect"] == aspect:
                first, second = sorted((v["video_a"], v["video_b"]))
                outcome = v["outcome"] if v["video_a"] == first else FLIP[v["outcome"]]
                labels.setdefault((v["sample_id"], first, second), {})[v["annotator"]] = (
                    _gsb_outcome(outcome)
                )
        left, right = [], []
        for by_person in labels.values():
            for x, y in itertools.combinations(sorted(by_person), 2):
                left.append(by_person[x])
                right.append(by_person[y])
        if left:
            rows.append(
                {
                    "aspect": aspect.upper(),
                    "shared items": sum(len(p) > 1 for p in labels.values()),
                    "annotator pairs": len(left),
                    "agreement": float(np.mean([x == y for x, y in zip(left, right, strict=True)])),
                    "kappa": cohen_kappa(left, right),
                }
            )
    return rows

"""The report: paper-style tables from what the store holds, recomputed from stored scores and
metrics (append-only events), each checkpoint read through its newest generation per sample.

`queries` reads the store, `tables` turns scores into rows (pure), `plots` draws the training
curves, `writers` writes report.md / .html / .json. `report_tables` is the one place the
tables are assembled: `workbench report` and the app's Leaderboard both call it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.ratings import TIE_MARGIN
from workbench.report import queries, tables
from workbench.store import Store


@dataclass(frozen=True)
class ReportTables:
    scores: tables.Scores
    """checkpoint -> sample -> (judge, dimension) -> value, for the checkpoints with scores."""
    unscored: list[str]
    gsb: list[dict[str, Any]]
    vbench: list[dict[str, Any]]
    vbench_missing: list[str]
    judges: list[dict[str, Any]]
    trained_on: list[dict[str, Any]]
    seeds: list[dict[str, Any]]
    splits: list[dict[str, Any]]
    reference: str | None
    """The reference the rows read against (None: none asked)."""


def report_tables(
    store: Store,
    dataset: str,
    split: str,
    ckpts: list[str],
    reference: str | None = None,
    margin: float = TIE_MARGIN,
    guidance: float | None = None,
) -> ReportTables:
    """Every table of the report for `ckpts` on a dataset's split. `reference`: put last, so
    GSB rows read "X vs reference", and the baseline of the win rates (one without scores
    gives way to base, or the first scored source; None: the given order, against base).
    `guidance`: only videos sampled with it."""
    every = {c: queries.checkpoint_scores(store, dataset, split, c, guidance) for c in ckpts}
    scores = {c: per for c, per in every.items() if per}
    if reference is not None:
        if reference not in scores:
            reference = "base" if "base" in scores else next(iter(scores), reference)
        scores = tables.reference_last(scores, reference)
    baseline = reference or "base"
    vbench, missing = tables.vbench_rows(scores)
    return ReportTables(
        scores=scores,
        unscored=[c for c, per in every.items() if not per],
        gsb=tables.gsb_rows(scores, margin),
        vbench=vbench,
        vbench_missing=missing,
        judges=tables.judge_rows(scores),
        trained_on=tables.pairs_rows(
            queries.trained_on(store, list(scores)), scores, baseline, margin
        ),
        seeds=tables.seed_rows(scores, baseline, margin),
        splits=tables.split_rows(queries.heldout_samples(store, dataset), scores),
        reference=reference,
    )

"""Pair sets, the preference data DPO trains on, built six ways: GT-Pairs (the real video
wins over a generator's rollout: `gtpair`), denoised-from-real and locally corrupted (over
the generator's denoising of a noised copy of it, whole or in a region: `denoised`),
judge-mined (the judges' best over worst of N
rollouts: `mined`), annotated pairs from people's votes on rollout
battles (`voted`) and from a simulated annotator when too few people voted (`simulated`).
A service both faces call (docs/design.md, floor 4); training only reads the stored pairs."""

from __future__ import annotations

import hashlib
from typing import Any

REGIONS = ("object", "background")  # what a locally corrupted pair's loser has made anew
ORACLE_JUDGES = ("shapes-vq", "shapes-pf")  # who ranks rollouts unless told otherwise


def rollout_pair(
    pairset: str,
    sample_id: str,
    winner: str,
    loser: str,
    provenance: dict[str, Any],
    kind: str = "annotated",
) -> dict[str, Any]:
    """A pair row of two rollouts of one sample, whoever chose the winner (people, the
    simulated annotator, the judges): its id names the pair set, the sample and both videos."""
    return _row(
        f"{pairset}|{sample_id}|{winner}|{loser}",
        pairset,
        sample_id,
        winner,
        loser,
        kind,
        provenance,
    )


def real_pair(
    pairset: str, sample: dict[str, Any], loser: str, provenance: dict[str, Any], kind: str
) -> dict[str, Any]:
    """A pair row whose winner is the sample's real video: its id names the pair set, the
    sample and the loser."""
    key = f"{pairset}|{sample['id']}|{loser}"
    return _row(key, pairset, sample["id"], sample["video_id"], loser, kind, provenance)


def _row(
    key: str,
    pairset: str,
    sample_id: str,
    winner: str,
    loser: str,
    kind: str,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": hashlib.sha256(key.encode()).hexdigest()[:16],
        "pairset": pairset,
        "sample_id": sample_id,
        "winner_video": winner,
        "loser_video": loser,
        "kind": kind,
        "provenance": provenance,
    }

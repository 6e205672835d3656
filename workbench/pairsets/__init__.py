"""Pair sets, the preference data DPO trains on, built five ways: GT-Pairs (the real video
wins over a generator's rollout: `gtpair`), denoised-from-real (over the generator's
denoising of a noised copy of it: `denoised`), judge-mined (the judges' best over worst of N
rollouts: `mined`), annotated pairs from people's votes on rollout
battles (`voted`) and from a simulated annotator when too few people voted (`simulated`).
A service both faces call (docs/design.md, floor 4); training only reads the stored pairs."""

from __future__ import annotations

import hashlib
from typing import Any


def annotated_pair(
    pairset: str, sample_id: str, winner: str, loser: str, provenance: dict[str, Any]
) -> dict[str, Any]:
    """A pair row of two rollouts of one sample, whoever annotated it (people or simulated):
    its id names the pair set, the sample and both videos, winner first."""
    key = f"{pairset}|{sample_id}|{winner}|{loser}"
    return {
        "id": hashlib.sha256(key.encode()).hexdigest()[:16],
        "pairset": pairset,
        "sample_id": sample_id,
        "winner_video": winner,
        "loser_video": loser,
        "kind": "annotated",
        "provenance": provenance,
    }

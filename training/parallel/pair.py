"""Pair parallel: how a preference step computes the winner and loser sides of its pairs.

- fused: winners and losers in one 2B forward (the paper's "pair parallelism").
- sequential: a B forward for the winners, then one for the losers (the baseline).
- split: winners on one half of the ranks, losers on the other; only the per-sample errors
  (B numbers each) cross between them, so neither half holds the other's activations.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

PASSES = {"fused": ("wl",), "sequential": ("w", "l")}


def pair_passes(mode: str, side: str = "w") -> tuple[str, ...]:
    """The forwards one rank runs, each naming the sides it computes, in batch order."""
    return PASSES.get(mode, (side,))


def exchange_sides(mine: dict[str, torch.Tensor], group) -> dict[str, torch.Tensor]:
    """Split pair parallel: this rank's side keeps its graph; the partner's errors arrive
    detached (its rank computes their gradient), ordered winner rank first."""
    ((side, value),) = mine.items()
    both = [torch.empty_like(value) for _ in range(2)]
    dist.all_gather(both, value.detach().contiguous(), group=group)
    other = "l" if side == "w" else "w"
    return {side: value, other: both["wl".index(other)]}

"""Reference models for DPO: what the trained model is compared against, three ways.

- lora: the trained model with its LoRA adapters disabled (no second copy in memory).
- copy: a frozen copy of the starting weights (full fine-tuning), or a given checkpoint.
- cached: reference errors computed before training for every (item, epoch) the run will
  visit, possible because noise and timestep are a function of (seed, item, epoch).
All three give the same numbers on the same batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from training.losses import per_sample_error
from workbench.errors import WorkbenchError
from workbench.models.runtime import Runtime
from workbench.models.wan import Conditioning, WanVideoModel

REFERENCES = ("lora", "copy", "cached")
# (x_t, t, cond, target, draws, sides) -> reference errors, one per row of x_t; `sides`
# names what the rows hold: 'wl' winners then losers (2B), 'w' or 'l' alone (B).
ReferenceFn = Callable[..., torch.Tensor]


def lora_disabled_reference(model: WanVideoModel) -> ReferenceFn:
    if not getattr(model.transformer, "peft_config", None):
        raise WorkbenchError("reference 'lora' needs LoRA training; use 'copy' for full tuning")

    @torch.no_grad()
    def errors(x_t, t, cond: Conditioning, target, draws=None, sides="wl") -> torch.Tensor:
        model.transformer.disable_adapters()
        try:
            return per_sample_error(model.velocity(x_t, t, cond), target)
        finally:
            model.transformer.enable_adapters()

    return errors


class FrozenReference:
    """A frozen network in the runtime's frozen dtype: a copy of the model's current weights
    (without any LoRA adapter: at the start they add nothing), or the one given.

    Raises:
        WorkbenchError: the given network's architecture differs from the model's.
    """

    def __init__(self, model: WanVideoModel, runtime: Runtime, network=None) -> None:
        if network is None:
            network = runtime.frozen_copy(model.transformer)
            if getattr(network, "peft_config", None):
                network.unload_lora()
        elif diff := _architecture_diff(network.config, model.transformer.config):
            raise WorkbenchError(
                f"reference checkpoint has another architecture (differs in {diff})"
            )
        self.model, self.network = model, runtime.freeze(network)

    @torch.no_grad()
    def __call__(self, x_t, t, cond: Conditioning, target, draws=None, sides="wl") -> torch.Tensor:
        return per_sample_error(self.model.velocity(x_t, t, cond, transformer=self.network), target)


@dataclass(frozen=True)
class CachedReference:
    """Reference errors looked up by (item, epoch): table values are (err_w, err_l). The table
    is saved with a run's checkpoints, so a resume need not compute it again."""

    table: dict[tuple[int, int], tuple[float, float]]

    def __call__(self, x_t, t, cond, target, draws, sides="wl") -> torch.Tensor:
        try:
            pairs = [self.table[(i, e)] for i, e in zip(draws.items, draws.epochs, strict=True)]
        except KeyError as exc:
            raise WorkbenchError(f"no cached reference error for (item, epoch) {exc}") from None
        return torch.tensor([pair["wl".index(s)] for s in sides for pair in pairs])


def _architecture_diff(a: dict, b: dict) -> list[str]:
    """Config keys that differ, ignoring private ones such as the load path."""
    keys = {k for k in {*a, *b} if not k.startswith("_")}
    return sorted(k for k in keys if a.get(k) != b.get(k))

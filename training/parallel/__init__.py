"""Training beyond one device (docs/design.md): a plain model is
parallelised by small functions, torchtitan's way, not by a model of its own."""

from __future__ import annotations

import torch

from training.parallel.context import apply_cp
from training.parallel.fsdp import apply_fsdp, load_into_shards
from training.parallel.mesh import Parallel, ParallelPlan, init_parallel
from workbench.models.runtime import Runtime

__all__ = ["Parallel", "ParallelPlan", "init_parallel", "load_into_shards", "parallelize"]


def parallelize(transformer: torch.nn.Module, par: Parallel, runtime: Runtime) -> None:
    """Context parallel first (diffusers' hooks on the plain module), then FSDP2 over every
    rank, the order torchtitan applies them in."""
    if par.plan.cp > 1:
        apply_cp(transformer, par.mesh, runtime.device)
    apply_fsdp(transformer, par.fsdp_mesh, runtime)

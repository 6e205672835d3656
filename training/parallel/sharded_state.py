"""Checkpoints of a sharded run: torch.distributed.checkpoint (DCP) shards of the trainable
weights and the optimiser, for an exact resume on any number of processes, beside the
ordinary checkpoint that rank 0 consolidates (the format `load_model` and diffusers'
`load_lora_weights` read)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)

from training.parallel.mesh import Parallel
from training.resume_state import save_training_checkpoint
from workbench.models.wan import WanVideoModel

SHARDS = "shards"
TRAINABLE = StateDictOptions(ignore_frozen_params=True)


def save_sharded_checkpoint(
    path: Path,
    model: WanVideoModel,
    optimizer: torch.optim.Optimizer,
    parent: Path | None,
    state: dict[str, Any],
    par: Parallel,
) -> None:
    """Every rank writes its shards beside `path`; rank 0 then gathers the full trainable
    weights and replaces the checkpoint folder (weights, state, shards) atomically."""
    scratch = path.parent / f".{path.name}.{SHARDS}"
    if par.is_main:
        shutil.rmtree(scratch, ignore_errors=True)  # a killed save's
    par.barrier()
    weights, optim = get_state_dict(model.transformer, optimizer, options=TRAINABLE)
    dcp.save({"model": weights, "optim": optim}, checkpoint_id=scratch)
    full = get_model_state_dict(
        model.transformer,
        options=StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True),
    )
    par.barrier()
    if par.is_main:

        def move_shards(tmp: Path) -> None:
            os.replace(scratch, tmp / SHARDS)

        save_training_checkpoint(path, model, parent, state, weights=full, extra=move_shards)
    par.barrier()


def load_sharded_checkpoint(
    folder: Path, model: WanVideoModel, optimizer: torch.optim.Optimizer
) -> None:
    """Trainable weights and optimiser state from a sharded checkpoint into this layout."""
    weights, optim = get_state_dict(model.transformer, optimizer, options=TRAINABLE)
    saved = {"model": weights, "optim": optim}
    dcp.load(saved, checkpoint_id=folder / SHARDS)
    # Not strict: the frozen weights are the parent's, loaded already. DCP itself refuses a
    # checkpoint that lacks any trainable weight the template asks for.
    set_state_dict(
        model.transformer,
        optimizer,
        model_state_dict=saved["model"],
        optim_state_dict=saved["optim"],
        options=StateDictOptions(ignore_frozen_params=True, strict=False),
    )

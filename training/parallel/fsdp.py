"""FSDP2 applied to a plain transformer, as torchtitan's `apply_fsdp` does
(torchtitan/models/llama3/infra/parallelize.py): each block is its own shard unit, then the
root takes what is left (embeddings, norms, the output head)."""

from __future__ import annotations

import warnings

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from workbench.models.runtime import Runtime


def apply_fsdp(transformer: torch.nn.Module, mesh: DeviceMesh, runtime: Runtime) -> None:
    """Shard every parameter over `mesh`; a block's weights are whole only while it runs.

    Mixed precision: under bf16 a fully trained model gathers its fp32 weights as bf16 and
    reduces gradients in fp32. A LoRA model keeps its frozen base in bf16 already (and the
    modules diffusers keeps in fp32 stay so), so its weights are gathered as stored and
    the autocast does the rest; FSDP2 needs one dtype only among trainable weights.
    """
    trainable = [p for p in transformer.parameters() if p.requires_grad]
    full = bool(trainable) and len(trainable) == len(list(transformer.parameters()))
    policy = (
        MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        if runtime.precision == "bf16" and full
        else MixedPrecisionPolicy()
    )
    # Wan's output is a reshaped view; the objectives only read it (no in-place op that
    # would skip FSDP2's pre-backward hook), so its warning about views says nothing here.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    for block in transformer.blocks:
        fully_shard(block, mesh=mesh, mp_policy=policy)
    fully_shard(transformer, mesh=mesh, mp_policy=policy)

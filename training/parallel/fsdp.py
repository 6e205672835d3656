"""FSDP2 applied to a plain transformer, as torchtitan's `apply_fsdp` does
(torchtitan/models/llama3/infra/parallelize.py): each block is its own shard unit, then the
root takes what is left (embeddings, norms, the output head). Under bf16 the layers the
autocast runs in bf16 get a bf16 policy of their own; the rest stays fp32."""

from __future__ import annotations

import warnings

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

from workbench.models.runtime import Runtime, low_precision_layers


def apply_fsdp(transformer: torch.nn.Module, mesh: DeviceMesh, runtime: Runtime) -> None:
    """Shard every parameter over `mesh`; a block's weights are whole only while it runs.

    Mixed precision: under bf16 a fully trained model gathers as bf16 exactly the weights
    one process's autocast computes with in bf16 (`low_precision_layers`), each such layer
    its own unit, and reduces gradients in fp32; the
    rest of a block (norm scales, `scale_shift_table`) and the root stay fp32, as in one
    process and in the frozen reference (`Runtime.freeze`), so at step 0 policy = reference.
    A LoRA model keeps its frozen base as `freeze` left it, so its weights are gathered as
    stored; FSDP2 needs one dtype only among trainable weights.
    """
    trainable = [p for p in transformer.parameters() if p.requires_grad]
    full = bool(trainable) and len(trainable) == len(list(transformer.parameters()))
    # Inputs as they are: casting them (FSDP2's default) would put RoPE's fp32 tables in bf16.
    as_stored = MixedPrecisionPolicy(cast_forward_inputs=False)
    bf16 = MixedPrecisionPolicy(
        param_dtype=torch.bfloat16, reduce_dtype=torch.float32, cast_forward_inputs=False
    )
    in_bf16 = {id(layer) for layer in low_precision_layers(transformer)}
    # Wan's output is a reshaped view; the objectives only read it (no in-place op that
    # would skip FSDP2's pre-backward hook), so its warning about views says nothing here.
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    for block in transformer.blocks:
        if runtime.precision == "bf16" and full:
            for layer in block.modules():
                if id(layer) in in_bf16:
                    fully_shard(layer, mesh=mesh, mp_policy=bf16)
        fully_shard(block, mesh=mesh, mp_policy=as_stored)
    fully_shard(transformer, mesh=mesh, mp_policy=as_stored)

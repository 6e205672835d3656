"""FSDP2 applied to a plain transformer, as torchtitan's `apply_fsdp` does
(torchtitan/models/llama3/infra/parallelize.py): each block is its own shard unit, then the
root takes what is left (embeddings, norms, the output head). Under bf16 the layers the
autocast runs in bf16 get a bf16 policy of their own; the rest stays fp32. A model built on
the meta device is sharded first and loaded after (`load_into_shards`), torchtitan's order
(torchtitan/train.py: build on meta, parallelize, `to_empty`, load)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, Shard

from workbench.errors import WorkbenchError
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


def load_into_shards(network: torch.nn.Module, folder: Path, device: torch.device) -> None:
    """Give a network built on the meta device and sharded (`apply_fsdp`) its weights from
    a model folder's safetensors: each rank reads only its own rows of each weight (FSDP2
    shards dim 0 as `torch.chunk` does) in the dtype `apply_fsdp` and `Runtime.freeze` left
    it, so no process ever holds, or maps, the whole model (a 14B transformer is 56 GB in
    fp32). The computed buffers (RoPE tables), real since the build, are kept.

    Raises:
        WorkbenchError: the folder has no safetensors, or they and the network disagree.
    """
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise WorkbenchError(f"{folder}: no *.safetensors to load the sharded model from")
    buffers = {name: b.detach().clone() for name, b in network.named_buffers()}
    network.to_empty(device=device)
    params = dict(network.named_parameters())
    missing = set(params)
    with torch.no_grad():
        for name, buffer in network.named_buffers():
            buffer.copy_(buffers[name])
        for file in files:
            with safe_open(file, "pt") as fh:
                for key in fh.keys():  # noqa: SIM118 (a safe_open handle is not iterable)
                    if key not in params:
                        raise WorkbenchError(f"{file}: weight {key} is not in the model")
                    local = _local(params[key])
                    first = _first_row(params[key])
                    rows = fh.get_slice(key)[first : first + local.shape[0]]
                    local.copy_(rows.to(local.dtype))
                    missing.discard(key)
    if missing:
        raise WorkbenchError(f"{folder}: no weights for {', '.join(sorted(missing)[:3])}")


def _local(param: torch.Tensor) -> torch.Tensor:
    return param.to_local() if isinstance(param, DTensor) else param


def _first_row(param: torch.Tensor) -> int:
    """Where this rank's rows start in the whole weight: `apply_fsdp` shards dim 0 over a
    1-D mesh in chunks of ceil(rows / ranks)."""
    if not isinstance(param, DTensor):
        return 0
    if param.placements != (Shard(0),):
        raise WorkbenchError(f"cannot load a weight placed as {param.placements}")
    mesh = param.device_mesh
    return min(mesh.get_local_rank() * -(-param.shape[0] // mesh.size()), param.shape[0])

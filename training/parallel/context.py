"""Context parallel over the video tokens with diffusers' own machinery: `enable_parallelism`
with a `ContextParallelConfig` and the model's `_cp_plan` (WanTransformer3DModel ships one:
the tokens are split after the patch embedding and RoPE, gathered again at `proj_out`).

Every rank of a context group gets the same noise and timestep (draws are a function of
seed, item and epoch) and, because diffusers gathers the output, the whole prediction: the
per-sample errors, and so the DPO loss, are the full ones on every rank, taken before the
log-sigmoid. Each rank's parameter gradients are its tokens' share and add up over the group
(`Parallel.loss_scale`).
"""

from __future__ import annotations

import functools

import torch
from torch.distributed.device_mesh import DeviceMesh

from workbench.errors import WorkbenchError


def apply_cp(transformer: torch.nn.Module, mesh: DeviceMesh, device: torch.device) -> None:
    """Ulysses attention over `mesh['ulysses']` (ring over `mesh['ring']` where set).

    Raises:
        WorkbenchError: the attention heads do not divide among the Ulysses ranks.
    """
    from diffusers import ContextParallelConfig

    ulysses, ring = mesh["ulysses"].size(), mesh["ring"].size()
    heads = transformer.config.num_attention_heads
    if heads % ulysses:
        raise WorkbenchError(
            f"--cp {ulysses}: the model's {heads} attention heads do not divide among "
            f"{ulysses} Ulysses ranks"
        )
    if ring > 1 and device.type == "cpu":
        raise WorkbenchError(
            "ring attention needs an attention backend that returns the log-sum-exp "
            "(flash-attn on CUDA); diffusers' native CPU attention does not"
        )
    config = ContextParallelConfig(ulysses_degree=ulysses, ring_degree=ring, mesh=mesh)
    if device.type == "cpu":
        # diffusers picks the device as rank % accelerator count (models/modeling_utils.py,
        # `_resolve_parallel_config`, since 0.41; inline in `enable_parallelism` before): a
        # division by zero on a CPU-only machine. The same resolution with the CPU as the
        # device, through the narrowest hook there is (pyproject pins diffusers >= 0.41):
        transformer._resolve_parallel_config = functools.partial(
            _resolve_on_cpu, transformer, device
        )
    transformer.enable_parallelism(config=config)


def _resolve_on_cpu(transformer, device: torch.device, config):
    import torch.distributed as dist
    from diffusers.models._modeling_parallel import ParallelConfig

    config = ParallelConfig(context_parallel_config=config)
    cp = config.context_parallel_config
    config.setup(dist.get_rank(), dist.get_world_size(), device, mesh=cp.mesh)
    transformer._parallel_config = config
    return config


def check_tokens(transformer: torch.nn.Module, latent_shape: tuple[int, ...], cp: int) -> None:
    """Refuse a clip whose token count does not split evenly over the context group.

    Raises:
        WorkbenchError: naming the counts.
    """
    pt, ph, pw = transformer.config.patch_size
    _, frames, height, width = latent_shape
    tokens = (frames // pt) * (height // ph) * (width // pw)
    if tokens % cp:
        raise WorkbenchError(
            f"--cp {cp}: a clip is {tokens} tokens ({frames // pt} x {height // ph} x "
            f"{width // pw} latent patches), which does not split into {cp} equal parts; "
            "choose a --cp that divides it or another frame count"
        )

"""Transforms applied to a plain transformer, torchtitan's way (torchtitan/models/llama3/
infra/parallelize.py: `apply_ac`, `apply_compile`, beside `apply_fsdp` and `apply_cp`, which
need a process group and live in training/parallel): activation checkpointing, compiled
blocks, and the attention backend."""

from __future__ import annotations

import torch

from workbench.errors import WorkbenchError


def apply_ac(transformer: torch.nn.Module) -> None:
    """Activation checkpointing per transformer block: each block's activations are
    recomputed in the backward pass instead of kept (diffusers' own per-block hook)."""
    transformer.enable_gradient_checkpointing()


def apply_compile(transformer: torch.nn.Module) -> None:
    """torch.compile each transformer block (torchtitan's apply_compile): the blocks are one
    class, so they share a compiled graph and compiling costs one block's time; whether it
    pays is `workbench bench train-step`'s to say (the README quotes it)."""
    for block in transformer.blocks:
        block.compile()


def attention_backends() -> list[str]:
    """What `--attention` takes: auto, and diffusers' attention backends (models/
    attention_dispatch.py, `AttentionBackendName`) except those that fetch kernels from the
    Hub at run time (nothing downloads here)."""
    from diffusers.models.attention_dispatch import AttentionBackendName

    return ["auto", *(b.value for b in AttentionBackendName if "hub" not in b.value)]


def apply_attention(transformer: torch.nn.Module, backend: str, device: torch.device) -> str:
    """Route the transformer's attention through one of diffusers' backends (its dispatcher,
    `set_attention_backend`); returns the backend chosen, for the run's record. auto: flash-attn
    on CUDA where it is installed, otherwise torch's SDPA ('native': on CUDA torch picks its
    own flash or memory-efficient kernel).

    Raises:
        WorkbenchError: an unknown backend, one that needs a missing package, a GPU kernel on
            a CPU.
    """
    from diffusers.models import attention_dispatch as dispatch

    choices = attention_backends()
    if backend not in choices:
        raise WorkbenchError(
            f"unknown attention backend {backend!r}; choose from {', '.join(choices)}"
        )
    if backend == "auto":
        backend = (
            "flash" if device.type == "cuda" and dispatch.is_flash_attn_available() else ("native")
        )
    if backend not in ("native", "_native_math") and device.type != "cuda":
        raise WorkbenchError(
            f"attention backend {backend!r} runs on CUDA; this run is on {device.type} (use native)"
        )
    try:
        dispatch._check_attention_backend_requirements(dispatch.AttentionBackendName(backend))
    except RuntimeError as exc:
        raise WorkbenchError(f"attention backend {backend!r}: {exc}") from None
    if backend != "native":  # native is diffusers' default
        transformer.set_attention_backend(backend)
    return backend

"""Where a model's parts run and in which dtype: one small object every component consults.

On CUDA the frozen parts (text and image encoders, a frozen transformer) hold bf16 weights
and the maths runs under bf16 autocast, while trainable weights stay fp32 (the optimiser's
master copy). The VAE stays fp32, as diffusers' Wan examples load it (bf16 decoding bands).
On CPU everything is fp32 unless bf16 is asked for. With `offload`, a component sits on the
CPU and visits the accelerator only while it works (the encoders are used once per prompt or
clip, the transformer every step).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.errors import WorkbenchError
from workbench.launch import local_device

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Runtime:
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    """fp32, or bf16: frozen weights in bf16 and bf16 autocast around the networks."""
    offload: bool = False

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be fp32 or bf16, got {self.precision!r}")

    @property
    def frozen_dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.precision == "bf16" else torch.float32

    def autocast(self) -> contextlib.AbstractContextManager:
        """The one autocast every forward runs under (training, reference, sampling), so a
        cached reference equals the live one."""
        return torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16")

    @contextlib.contextmanager
    def use(self, module: torch.nn.Module) -> Iterator[torch.nn.Module]:
        """The module on the device for the duration; back on the CPU after if offloading."""
        module.to(self.device)
        try:
            yield module
        finally:
            if self.offload and self.device.type != "cpu":
                module.to("cpu")
                torch.cuda.empty_cache()

    def freeze(self, module: torch.nn.Module) -> torch.nn.Module:
        """A frozen part: no gradients, eval mode, and under bf16 precision bf16 weights
        where the autocast computes in bf16 anyway (`LOW_PRECISION_LAYERS`), outside the
        submodules the model keeps in fp32 (diffusers' `_keep_in_fp32_modules`: Wan's time
        embedder, norms, RoPE). Norm scales and tables stay fp32: a frozen copy of a model
        trained in fp32 under the autocast then computes exactly what the model computes."""
        module.requires_grad_(False).eval()
        if self.frozen_dtype == torch.float32:
            return module
        for layer in low_precision_layers(module):
            for tensor in itertools.chain(layer.parameters(False), layer.buffers(False)):
                if tensor.is_floating_point():
                    tensor.data = tensor.data.to(self.frozen_dtype)
        return module

    def frozen_copy(self, module: torch.nn.Module) -> torch.nn.Module:
        """`freeze`(a deep copy of `module`), cast while copying: under bf16 the layers that go
        bf16 are never duplicated in fp32 first (a 14B transformer's fp32 copy alone is 56 GB)."""
        memo: dict[int, Any] = {}
        if self.frozen_dtype != torch.float32:
            for layer in low_precision_layers(module):
                for tensor in itertools.chain(layer.parameters(False), layer.buffers(False)):
                    if tensor.is_floating_point():
                        cast = tensor.detach().to(self.frozen_dtype)
                        if isinstance(tensor, torch.nn.Parameter):
                            cast = torch.nn.Parameter(cast, requires_grad=False)
                        memo[id(tensor)] = cast
        return self.freeze(copy.deepcopy(module, memo))


LOW_PRECISION_LAYERS = (
    torch.nn.Linear,
    torch.nn.Conv1d,
    torch.nn.Conv2d,
    torch.nn.Conv3d,
    torch.nn.Embedding,
)


def low_precision_layers(module: torch.nn.Module) -> list[torch.nn.Module]:
    """The layers whose weights may be bf16 under bf16 precision: those the autocast runs in
    bf16 anyway (it casts their inputs and weights) and embeddings (the bulk of a text
    encoder), outside the submodules the model keeps in fp32."""
    keep = getattr(module, "_keep_in_fp32_modules", None) or []
    return [
        layer
        for name, layer in module.named_modules()
        if isinstance(layer, LOW_PRECISION_LAYERS) and not any(k in name.split(".") for k in keep)
    ]


def pick_runtime(
    precision: str = "auto", offload: bool = False, device: str | None = None
) -> Runtime:
    """The accelerator when there is one (under torchrun, this process's own); bf16 there and
    fp32 on the CPU unless told.

    Raises:
        ValueError: unknown precision.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    dev = torch.device(device or local_device() or ("cuda" if torch.cuda.is_available() else "cpu"))
    if precision == "auto":
        precision = "bf16" if dev.type == "cuda" else "fp32"
    return Runtime(dev, precision, offload)


def apply_ac(transformer: torch.nn.Module) -> None:
    """Activation checkpointing per transformer block: each block's activations are
    recomputed in the backward pass instead of kept (diffusers' own per-block hook)."""
    transformer.enable_gradient_checkpointing()


def apply_compile(transformer: torch.nn.Module) -> None:
    """torch.compile each transformer block (torchtitan's apply_compile, torchtitan/models/
    llama3/infra/parallelize.py): the blocks are one class, so they share a compiled graph and
    compiling costs one block's time. Measured on the embedded model, Reg-DPO, 2 CPU cores:
    32 s from a cold inductor cache, then 0.28-0.32 s a step against 0.33-0.35 s; on this
    machine it pays after about 800 steps (`workbench bench train-step` reports it)."""
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

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

"""The training configuration: one dataclass, validated, recorded with every run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from training.timesteps import SCHEMES
from workbench.models.runtime import PRECISIONS

METHODS = ("sft", "dpo", "regdpo")
REFERENCES = ("auto", "lora", "copy", "cached")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    method: str = "sft"
    """sft: flow matching on ground-truth videos (also pretrains the embedded base);
    dpo: Diffusion-DPO on pairs; regdpo: DPO plus r times the SFT loss on the winner."""
    dataset: str = "shapes"
    """Ground-truth clips for sft without pairs (its train split)."""
    pairs: str | None = None
    """Pair set to train on (dpo and regdpo need one; sft uses its winners)."""
    beta: float = 500.0
    """DPO temperature (the paper: 500)."""
    r: float | None = None
    """Reg-DPO's SFT weight: None = r_scale * DGR, recomputed each step; a number = fixed."""
    r_scale: float = 1.0
    reference: str = "auto"
    """lora (adapters disabled), copy (frozen copy of the start), cached (errors computed
    ahead); auto = lora when training LoRA, else copy."""
    ref_ckpt: str | None = None
    """Use this checkpoint's transformer as a frozen reference instead of the start."""
    max_bad_steps: int = 5
    """Stop after this many non-finite steps in a row (each is skipped)."""
    init: str = "tiny"
    """Checkpoint name or path to start from; 'tiny' builds a new embedded model."""
    task: str = "t2v"
    """t2v or i2v; only used when init is 'tiny' (a loaded model has its own)."""
    tiny_patch: tuple[int, int, int] = (2, 4, 4)
    """Patch (t, h, w) of a model built from scratch: (1, 4, 4) doubles the tokens."""
    steps: int = 200
    batch_size: int = 8
    grad_accum: int = 1
    """Micro-batches per optimiser step (effective batch = batch_size * grad_accum)."""
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 0
    """Linear warm-up steps."""
    schedule: str = "constant"
    """After warm-up: constant or cosine (to 10% of lr)."""
    grad_clip: float = 1.0
    """Max global grad norm; 0 disables clipping."""
    timesteps: str = "logit-normal"
    t_mean: float = 0.0
    t_std: float = 1.0
    t_shift: float = 1.0
    lora: bool = True
    """LoRA via peft (the paper's best) or, when False, full fine-tuning. A model built from
    scratch (init 'tiny') always trains all weights."""
    lora_rank: int = 16
    lora_alpha: float = 32.0
    lora_targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    prompt_dropout: float | None = None
    """Share of prompts replaced by '' so the model also learns the unconditional velocity.
    None: 0.1 for SFT, 0 for DPO / Reg-DPO (the paper drops no prompts)."""
    attention: str = "auto"
    """A diffusers attention backend (`training.transforms.attention_backends`); auto:
    flash-attn on CUDA where installed, torch's SDPA otherwise. The run records the one used."""
    precision: str = "auto"
    """fp32, bf16 (frozen weights bf16, bf16 autocast), or auto: bf16 on CUDA, fp32 on CPU."""
    seed: int = 0
    checkpoint_every: int = 100
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.task not in ("t2v", "i2v"):
            raise ValueError(f"task must be t2v or i2v, got {self.task!r}")
        if self.timesteps not in SCHEMES:
            raise ValueError(f"unknown timestep scheme {self.timesteps!r}; choose from {SCHEMES}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be constant or cosine, got {self.schedule!r}")
        for name in ("steps", "batch_size", "grad_accum", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.method in ("dpo", "regdpo") and not self.pairs:
            raise ValueError(f"method {self.method} trains on pairs: give a pair set")
        if self.beta <= 0:
            raise ValueError(f"beta must be > 0, got {self.beta}")
        if self.reference not in REFERENCES:
            raise ValueError(f"unknown reference {self.reference!r}; choose from {REFERENCES}")
        if self.reference == "lora" and not self.trains_lora:
            raise ValueError("reference 'lora' needs LoRA training (not --full, not init tiny)")
        if self.ref_ckpt and self.reference == "lora":
            raise ValueError(
                "a reference checkpoint is a frozen copy: use reference copy or cached"
            )
        if self.r is not None and self.r < 0:
            raise ValueError(f"r must be >= 0, got {self.r}")
        if self.lr <= 0 or self.lora_rank < 1 or not 0 <= self.dropout < 1:
            raise ValueError("lr must be > 0, lora_rank >= 1, prompt_dropout in [0, 1)")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")

    @property
    def trains_lora(self) -> bool:
        return self.lora and self.init != "tiny"

    @property
    def dropout(self) -> float:
        if self.prompt_dropout is not None:
            return self.prompt_dropout
        return 0.1 if self.method == "sft" else 0.0

    @property
    def reference_kind(self) -> str:
        if self.reference != "auto":
            return self.reference
        return "lora" if self.trains_lora and not self.ref_ckpt else "copy"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

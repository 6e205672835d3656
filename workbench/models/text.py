"""Prompt encoding with a cache, as the Wan pipelines do it (UMT5, zero-padded past the text).

Prompts are encoded in chunks and kept trimmed to their tokens in the runtime's frozen dtype
(a 512-token UMT5-XXL embedding is 8 MB in fp32; a 20-token one in bf16 is 160 kB), and
padded back with zeros when a batch asks for them.
"""

from __future__ import annotations

import torch

from workbench.models.runtime import Runtime

CHUNK = 16


class PromptEncoder:
    """Encodes each prompt once while the text encoder is frozen. It always is, except while
    the embedded model trains from scratch: then `trainable` is set and nothing is cached.
    """

    def __init__(self, tokenizer, text_encoder, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.max_length = max_length
        self.trainable = False
        self.runtime = Runtime()
        self._cache: dict[str, torch.Tensor] = {}

    def place(self, runtime: Runtime) -> None:
        self.runtime = runtime
        if not self.trainable:
            runtime.freeze(self.text_encoder)
        self._cache.clear()

    def set_trainable(self, trainable: bool) -> None:
        self.trainable = trainable
        if trainable:
            self.text_encoder.float()
        self.text_encoder.train(trainable).requires_grad_(trainable)
        self._cache.clear()

    def encode(self, prompts: list[str], cache: bool = True) -> torch.Tensor:
        """(B, max_length, D) embeddings, zeros after each prompt's last token.

        `cache` False encodes afresh (what a pipeline without a cache does every call)."""
        if self.trainable or not cache:
            with torch.set_grad_enabled(self.trainable), self.runtime.use(self.text_encoder):
                return self._pad(self._run(prompts))
        missing = sorted({p for p in prompts if p not in self._cache})
        if missing:
            with torch.no_grad(), self.runtime.use(self.text_encoder):
                for start in range(0, len(missing), CHUNK):
                    chunk = missing[start : start + CHUNK]
                    self._cache.update(zip(chunk, self._run(chunk), strict=True))
        return self._pad([self._cache[p] for p in prompts])

    def _run(self, prompts: list[str]) -> list[torch.Tensor]:
        """Each prompt's embeddings over its own tokens only."""
        tokens = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        device = self.runtime.device
        mask = tokens.attention_mask.to(device)
        with self.runtime.autocast():
            hidden = self.text_encoder(tokens.input_ids.to(device), mask).last_hidden_state
        lengths = mask.sum(dim=1).tolist()
        if self.trainable:  # stays on the device, in the graph
            return [h[:n].float() for h, n in zip(hidden, lengths, strict=True)]
        keep = self.runtime.frozen_dtype
        return [h[:n].to("cpu", keep) for h, n in zip(hidden, lengths, strict=True)]

    def _pad(self, embeddings: list[torch.Tensor]) -> torch.Tensor:
        pad = lambda e: torch.nn.functional.pad(e, (0, 0, 0, self.max_length - len(e)))  # noqa: E731
        return torch.stack([pad(e) for e in embeddings])

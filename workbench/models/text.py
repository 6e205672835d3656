"""Prompt encoding with a cache, as the Wan pipelines do it (UMT5, zero-padded past the text)."""

from __future__ import annotations

import torch


class PromptEncoder:
    """Encodes each prompt once while the text encoder is frozen. It always is, except while
    the embedded model trains from scratch: then `trainable` is set and nothing is cached.
    """

    def __init__(self, tokenizer, text_encoder, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.max_length = max_length
        self.trainable = False
        self._cache: dict[str, torch.Tensor] = {}

    def set_trainable(self, trainable: bool) -> None:
        self.trainable = trainable
        self.text_encoder.train(trainable).requires_grad_(trainable)
        self._cache.clear()

    def encode(self, prompts: list[str]) -> torch.Tensor:
        """(B, max_length, D) float32 embeddings, zeros after each prompt's last token."""
        if self.trainable:
            return self._run(prompts)
        missing = sorted({p for p in prompts if p not in self._cache})
        if missing:
            with torch.no_grad():
                self._cache.update(zip(missing, self._run(missing).cpu(), strict=True))
        return torch.stack([self._cache[p] for p in prompts])

    def _run(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.max_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        device = self.text_encoder.device
        mask = tokens.attention_mask.to(device)
        hidden = self.text_encoder(tokens.input_ids.to(device), mask).last_hidden_state.float()
        return hidden * mask[..., None]  # Wan zero-pads past the text

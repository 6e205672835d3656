"""Tiny random Wan2.1 pipelines in the diffusers format, built offline for tests."""

from __future__ import annotations

from pathlib import Path

import torch

from workbench.models.tiny import build_tokenizer, world_vocabulary


def save_tiny_wan_pipeline(path: Path, task: str) -> Path:
    """A WanPipeline (t2v) or WanImageToVideoPipeline (i2v, no image encoder) saved to path."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    tokenizer = build_tokenizer(world_vocabulary())
    text_encoder = UMT5EncoderModel(UMT5Config(
        vocab_size=len(tokenizer), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
    ))  # fmt: skip
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])  # fmt: skip
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
        in_channels=16 if task == "t2v" else 36, out_channels=16, text_dim=16, freq_dim=32,
        ffn_dim=32, num_layers=2, rope_max_seq_len=32,
    )  # fmt: skip
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    parts = dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                 transformer=transformer, scheduler=scheduler)  # fmt: skip
    if task == "t2v":
        pipe = WanPipeline(**parts)
    else:
        pipe = WanImageToVideoPipeline(**parts, image_encoder=None, image_processor=None)
    pipe.save_pretrained(path)
    return path

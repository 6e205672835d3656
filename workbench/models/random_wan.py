"""Wan2.1 pipelines with random weights, built offline from diffusers' and transformers' own
classes: tiny ones for tests, and the real 1.3B architecture for memory benchmarks.

The sizes follow the Wan-AI/Wan2.1-*-Diffusers configs (transformer/config.json,
vae/config.json, text_encoder/config.json); the tokenizer is the world's word-level one
(a random model has nothing to read in UMT5's 256k vocabulary).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from workbench.models.tiny import build_tokenizer
from workbench.world.shapes import vocabulary

# transformer, text encoder, VAE and CLIP vision sizes per architecture
SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "transformer": dict(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            text_dim=16,
            freq_dim=32,
            ffn_dim=32,
            num_layers=2,
            rope_max_seq_len=32,
        ),
        "text": dict(d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=4),
        "vae": dict(base_dim=3, dim_mult=[1, 1, 1, 1], num_res_blocks=1),
        "clip": dict(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=32,
            patch_size=8,
        ),
    },
    "small": {  # Wan-shaped, big enough on a CPU for memory to follow the video length
        "transformer": dict(
            patch_size=(1, 2, 2),
            num_attention_heads=6,
            attention_head_dim=64,
            text_dim=512,
            freq_dim=256,
            ffn_dim=1536,
            num_layers=8,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
        ),
        "text": dict(
            d_model=512,
            d_kv=64,
            d_ff=1024,
            num_layers=4,
            num_heads=8,
            feed_forward_proj="gated-gelu",
        ),
        "vae": dict(base_dim=32, dim_mult=[1, 2, 4, 4], num_res_blocks=1),
        "clip": dict(
            hidden_size=256,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            patch_size=14,
        ),
    },
    "1.3b": {  # Wan2.1-T2V-1.3B; UMT5-XXL encoder; the default AutoencoderKLWan
        "transformer": dict(
            patch_size=(1, 2, 2),
            num_attention_heads=12,
            attention_head_dim=128,
            text_dim=4096,
            freq_dim=256,
            ffn_dim=8960,
            num_layers=30,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
        ),
        "text": dict(
            d_model=4096,
            d_kv=64,
            d_ff=10240,
            num_layers=24,
            num_heads=64,
            feed_forward_proj="gated-gelu",
        ),
        "vae": dict(base_dim=96, dim_mult=[1, 2, 4, 4], num_res_blocks=2),
        "clip": dict(
            hidden_size=1280,
            intermediate_size=5120,
            num_hidden_layers=32,
            num_attention_heads=16,
            image_size=224,
            patch_size=14,
        ),
    },
}


def build_random_wan(size: str, task: str, image_encoder: bool = True, seed: int = 0) -> dict:
    """The components of a WanPipeline (t2v) or WanImageToVideoPipeline (i2v; with a CLIP
    vision encoder unless `image_encoder` is False), random weights under `seed`."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    spec = SIZES[size]
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(vocabulary())
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            pad_token_id=0,
            eos_token_id=1,
            relative_attention_num_buckets=32,
            **spec["text"],
        )
    )
    vae = AutoencoderKLWan(z_dim=16, temperal_downsample=[False, True, True], **spec["vae"])
    extra: dict[str, Any] = {"in_channels": 16 if task == "t2v" else 36, "out_channels": 16}
    parts: dict[str, Any] = {"tokenizer": tokenizer, "text_encoder": text_encoder, "vae": vae}
    if task == "i2v" and image_encoder:
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

        clip = spec["clip"]
        parts["image_encoder"] = CLIPVisionModel(CLIPVisionConfig(**clip))
        side = clip["image_size"]
        parts["image_processor"] = CLIPImageProcessor(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}
        )
        heads = spec["transformer"]["num_attention_heads"]
        extra |= {
            "image_dim": clip["hidden_size"],
            "added_kv_proj_dim": heads * spec["transformer"]["attention_head_dim"],
        }
    parts["transformer"] = WanTransformer3DModel(**spec["transformer"], **extra)
    # What the Wan2.1 Diffusers repositories ship (flow shift 3.0 for 480p).
    parts["scheduler"] = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=3.0,
    )
    return parts


def save_random_wan_pipeline(path: Path, task: str, size: str = "tiny", **kw: Any) -> Path:
    """A random Wan2.1 pipeline saved in the diffusers layout (what `load_model` reads)."""
    from diffusers import WanImageToVideoPipeline, WanPipeline

    parts = build_random_wan(size, task, **kw)
    if task == "t2v":
        pipe = WanPipeline(**parts)
    else:
        parts.setdefault("image_encoder", None)
        parts.setdefault("image_processor", None)
        pipe = WanImageToVideoPipeline(**parts)
    pipe.save_pretrained(path)
    return Path(path)

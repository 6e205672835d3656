"""The embedded default: a tiny Wan2.1-class model for the shapes world, built offline.

The same `WanTransformer3DModel` and `UMT5EncoderModel` classes as the 14B checkpoints, with
tiny configs, a word-level tokenizer built from the world's vocabulary, and the pixel codec.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from workbench.models.codecs import PixelCodec
from workbench.models.text import PromptEncoder
from workbench.models.wan import WanVideoModel

SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")
# CFG only while t > 0.3: in pixel space, late guidance turns cond / uncond disagreement into
# coloured speckle (measured in the calibration run).
TINY_SAMPLING = {"steps": 20, "guidance": 4.0, "shift": 1.0, "cfg_min_t": 0.3}


@dataclass(frozen=True, kw_only=True)
class TinyWanConfig:
    """Sizes of the embedded model. Width must be >= p_t * p_h * p_w * 3 in pixel space."""

    patch_size: tuple[int, int, int] = (2, 4, 4)
    heads: int = 4
    head_dim: int = 32
    layers: int = 4
    ffn_dim: int = 512
    text_dim: int = 64
    text_layers: int = 1
    text_max_length: int = 24

    def __post_init__(self) -> None:
        if (
            self.heads * self.head_dim
            < 3 * self.patch_size[0] * self.patch_size[1] * self.patch_size[2]
        ):
            raise ValueError("width (heads * head_dim) must cover a pixel patch (p_t*p_h*p_w*3)")


def build_tokenizer(vocabulary: list[str]):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([*SPECIAL_TOKENS, *vocabulary])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def build_tiny_wan(
    cfg: TinyWanConfig,
    task: str,
    frames: int,
    height: int,
    width: int,
    fps: float,
    vocabulary: list[str],
    seed: int = 0,
) -> WanVideoModel:
    """A freshly initialised embedded model for clips of the given format, whose word-level
    tokenizer knows `vocabulary` (the shapes world's: `shapes.vocabulary()`)."""
    from diffusers import WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)  # diffusers / transformers initialise from the global generator
    tokenizer = build_tokenizer(vocabulary)
    text_config = UMT5Config(
        vocab_size=len(tokenizer),
        d_model=cfg.text_dim,
        d_kv=cfg.text_dim // 4,
        d_ff=2 * cfg.text_dim,
        num_layers=cfg.text_layers,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    text_encoder = UMT5EncoderModel(text_config).eval()
    codec = PixelCodec()
    p_t, p_h, p_w = cfg.patch_size
    in_channels = codec.channels if task == "t2v" else 2 * codec.channels + codec.temporal_factor
    transformer = WanTransformer3DModel(
        patch_size=cfg.patch_size,
        num_attention_heads=cfg.heads,
        attention_head_dim=cfg.head_dim,
        in_channels=in_channels,
        out_channels=codec.channels,
        text_dim=cfg.text_dim,
        freq_dim=64,
        ffn_dim=cfg.ffn_dim,
        num_layers=cfg.layers,
        rope_max_seq_len=max(frames // p_t, height // p_h, width // p_w, 8),
    )
    info = {
        "family": "wan",
        "codec": codec.name,
        "tiny": asdict(cfg),
        "clip": {"frames": frames, "height": height, "width": width, "fps": fps},
        "text_max_length": cfg.text_max_length,
        "sampling": dict(TINY_SAMPLING),
    }
    prompts = PromptEncoder(tokenizer, text_encoder, cfg.text_max_length)
    return WanVideoModel(transformer, prompts, codec, task, info)

"""A VideoReward with random weights, saved as the authors publish theirs: for tests (tiny) and
for timing the judge at the real architecture's size (2b: Qwen2-VL-2B's shapes) without the
real weights. The base gets a small word-level tokenizer with Qwen2-VL's special tokens and
its chat format; the checkpoint carries LoRA adapters on the language model's linear layers
and embeddings (random, so merging them matters), the embeddings and the reward head, under
the authors' (transformers 4.45, peft) module names."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from evaluators.videoreward import FOLDER, SPECIAL_TOKENS

QWEN_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Qwen2-VL-Instruct's chat format for a user turn of videos and text.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for c in message['content'] %}{% if c['type'] == 'video' %}"
    "<|vision_start|><|video_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SIZES = {
    "tiny": {
        "text": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2},
        "heads": (4, 2),
        "vision": {"depth": 2, "embed_dim": 32, "num_heads": 2},
        "mrope": [2, 3, 3],
    },
    "2b": {  # Qwen/Qwen2-VL-2B-Instruct's config.json
        "text": {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28},
        "heads": (12, 2),
        "vision": {"depth": 32, "embed_dim": 1280, "num_heads": 16},
        "mrope": [16, 24, 24],
    },
}
LORA = {"lora_enable": True, "lora_r": 4, "lora_alpha": 8, "use_rslora": False}
NORM = {
    "VQ_mean": 0.1,
    "VQ_std": 2.0,
    "MQ_mean": -0.2,
    "MQ_std": 0.5,
    "TA_mean": 0.3,
    "TA_std": 1.5,
}


def save_random_videoreward(weights: Path, size: str = "tiny", seed: int = 0, **data) -> Path:
    """`<weights>/videoreward/` (model_config.json and checkpoint-1/) over the random base
    `<weights>/Qwen2-VL-random-<size>/`; `data` overrides the data config (fps, pixels...)."""
    torch.manual_seed(seed)
    base = weights / f"Qwen2-VL-random-{size}"
    vocab = _save_base(base, SIZES[size])
    folder = weights / FOLDER
    checkpoint = folder / "checkpoint-1"
    checkpoint.mkdir(parents=True, exist_ok=True)
    config = {
        "data_config": {
            "meta_data": "",
            "data_dir": "",
            "max_frame_pixels": 200704,
            "num_frames": None,
            "fps": 2.0,
            "eval_dim": ["VQ", "MQ", "TA"],
            "prompt_template_type": "detailed_special",
            "sample_type": "uniform",
        }
        | data,
        "model_config": {
            "model_name_or_path": str(base),
            "output_dim": 3,
            "use_special_tokens": True,
            "reward_token": "special",
        },
        "peft_lora_config": LORA,
        "inference_config": NORM,
    }
    (folder / "model_config.json").write_text(json.dumps(config, indent=1))
    _save_checkpoint(checkpoint, SIZES[size], vocab + len(SPECIAL_TOKENS))
    return folder


def _save_base(base: Path, size: dict) -> int:
    """The random Qwen2-VL and its processor; returns the tokenizer's size."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    from workbench.world.shapes import vocabulary

    words = {*vocabulary(), *_template_words()} - {*QWEN_TOKENS, *SPECIAL_TOKENS}
    words = sorted(words)  # the reward tokens are the authors' addition to the tokenizer
    vocab = {t: i for i, t in enumerate(["[UNK]", *QWEN_TOKENS, *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(list(QWEN_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>"
    )
    Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    ).save_pretrained(base)
    heads, kv = size["heads"]
    text = {**size["text"], "vocab_size": len(vocab), "num_attention_heads": heads}
    text |= {"num_key_value_heads": kv, "bos_token_id": None, "eos_token_id": None}
    text["rope_parameters"] = {"rope_type": "default", "mrope_section": size["mrope"]}
    vision = {**size["vision"], "hidden_size": size["text"]["hidden_size"]}
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=vocab["<|image_pad|>"],
        video_token_id=vocab["<|video_pad|>"],
        vision_start_token_id=vocab["<|vision_start|>"],
    )
    Qwen2VLForConditionalGeneration(config).save_pretrained(base)
    return len(vocab)


def _template_words() -> list[str]:
    from evaluators.videoreward import DETAILED_SPECIAL

    return DETAILED_SPECIAL.split()


def _save_checkpoint(checkpoint: Path, size: dict, vocab: int) -> None:
    """adapter_model.safetensors (LoRA on every linear layer of the language model and on the
    embeddings) and non_lora_state_dict.pth (the embeddings with the reward tokens' rows,
    the head), named as peft names the authors' model."""
    from safetensors.torch import save_file

    hidden, layers = size["text"]["hidden_size"], size["text"]["num_hidden_layers"]
    heads, kv = size["heads"]
    head_dim = hidden // heads
    shapes = {
        "self_attn.q_proj": (hidden, hidden),
        "self_attn.k_proj": (kv * head_dim, hidden),
        "self_attn.v_proj": (kv * head_dim, hidden),
        "self_attn.o_proj": (hidden, hidden),
        "mlp.gate_proj": (size["text"]["intermediate_size"], hidden),
        "mlp.up_proj": (size["text"]["intermediate_size"], hidden),
        "mlp.down_proj": (hidden, size["text"]["intermediate_size"]),
    }
    r, prefix = LORA["lora_r"], "base_model.model.model"
    adapters = {}
    for layer in range(layers):
        for module, (out, into) in shapes.items():
            key = f"{prefix}.layers.{layer}.{module}"
            adapters[f"{key}.lora_A.weight"] = torch.randn(r, into) / into**0.5
            adapters[f"{key}.lora_B.weight"] = torch.randn(out, r) * 0.02
    adapters[f"{prefix}.embed_tokens.lora_embedding_A"] = torch.randn(r, vocab) * 0.02
    adapters[f"{prefix}.embed_tokens.lora_embedding_B"] = torch.randn(hidden, r) * 0.02
    save_file(adapters, checkpoint / "adapter_model.safetensors")
    rest = {
        f"{prefix}.embed_tokens.base_layer.weight": torch.randn(vocab, hidden) * 0.02,
        "base_model.model.rm_head.weight": torch.randn(3, hidden) / hidden**0.5,
    }
    torch.save(rest, checkpoint / "non_lora_state_dict.pth")
    adapter_config = {"peft_type": "LORA", "r": r, "lora_alpha": LORA["lora_alpha"]}
    (checkpoint / "adapter_config.json").write_text(json.dumps(adapter_config))

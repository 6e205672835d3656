"""VideoReward (VideoAlign, "Improving Video Generation with Human Feedback", arXiv 2501.13918):
a Qwen2-VL-2B with a linear reward head, trained on human Good / Same / Bad votes, that scores
a video's visual quality (VQ), motion quality (MQ) and text alignment (TA).

Follows KwaiVGI/VideoAlign step for step: `inference.py` (`VideoVLMRewardInference`: batch,
normalisation, Overall = VQ + MQ + TA), `trainer.py` (`Qwen2VLRewardModelBT.forward`: the head
read at the three special reward tokens), `prompt_template.py` (the template the model was
trained with), `vision_process.py` (`smart_nframes`, `smart_resize`, `fetch_video`: frames
sampled at the config's fps, resized to a multiple of 28 within the pixel budget) and
`utils.py` (`load_model_from_checkpoint`: the newest `checkpoint-N`, full or LoRA). Two of its
quirks are kept because the released weights were trained with them: the language model sees
plain 1-D positions for every token (its forward bypasses Qwen2-VL's 3-D rope index), and
frames are resized as uint8 before the processor rescales them.

Files: `<weights>/videoreward/` as the authors publish it (model_config.json,
checkpoint-N/{adapter_model.safetensors, non_lora_state_dict.pth} or checkpoint-N/model.pth),
and the base it names (model_config.json's model_name_or_path, e.g. Qwen/Qwen2-VL-2B-Instruct)
at `<weights>/<its last part>`. Module names are the authors' (transformers 4.45, peft
wrapped) and are mapped to transformers' current Qwen2-VL layout; LoRA is merged into the
weights as peft merges it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluators.base import Dimension, Judge, VideoItem

FOLDER = "videoreward"
ASPECTS = ("VQ", "MQ", "TA")
SPECIAL_TOKENS = ("<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>")
# vision_process.py's constants.
IMAGE_FACTOR, FRAME_FACTOR = 28, 2
VIDEO_MIN_PIXELS = 128 * 28 * 28
FPS_MIN_FRAMES, FPS_MAX_FRAMES = 4, 768
MAX_RATIO = 200
# What this file does to a video and the model's outputs; a change here is a new version.
PIPELINE_VERSION = "1"

# prompt_template.py's DETAILED_PROMPT_WITH_SPECIAL_TOKEN, word for word in a file of its own:
# the text the released model was trained with, its reward tokens inside.
DETAILED_SPECIAL = (Path(__file__).parent / "videoreward_prompt.txt").read_text()
TEMPLATES = {"detailed_special": DETAILED_SPECIAL}


@dataclass(frozen=True)
class RewardConfig:
    """What model_config.json says about frames, prompt, head and normalisation."""

    base: str
    fps: float | None
    num_frames: int | None
    max_pixels: int
    template: str
    output_dim: int
    lora: dict[str, Any] | None
    """r, alpha and rsLoRA of the adapters, None without LoRA."""
    norm: dict[str, float] | None
    """inference_config: <ASPECT>_mean / _std of the rewards, None to leave them raw."""

    @classmethod
    def read(cls, folder: Path) -> RewardConfig:
        raw = json.loads((folder / "model_config.json").read_text())
        data, model, lora = raw["data_config"], raw["model_config"], raw["peft_lora_config"]
        if (
            data.get("prompt_template_type") not in TEMPLATES
            or data.get("sample_type") != "uniform"
        ):
            raise ValueError(
                f"{folder}: only the released setup is supported (template detailed_special, "
                f"uniform frames), got {data.get('prompt_template_type')!r}, "
                f"{data.get('sample_type')!r}"
            )
        if model.get("reward_token") != "special" or not model.get("use_special_tokens"):
            raise ValueError(f"{folder}: only rewards read at the special tokens are supported")
        return cls(
            base=model["model_name_or_path"],
            fps=data.get("fps") if data.get("num_frames") is None else None,
            num_frames=data.get("num_frames"),
            max_pixels=int(data["max_frame_pixels"]),
            template=data["prompt_template_type"],
            output_dim=int(model["output_dim"]),
            lora=(
                {"r": lora["lora_r"], "alpha": lora["lora_alpha"], "rslora": lora["use_rslora"]}
                if lora.get("lora_enable")
                else None
            ),
            norm=raw.get("inference_config"),
        )


def prompt_text(prompt: str, template: str) -> str:
    return TEMPLATES[template].format(text_prompt=prompt)


def frame_count(total: int, video_fps: float, cfg: RewardConfig) -> int:
    """vision_process.smart_nframes: `num_frames`, or the clip's length at `fps`, at least 4,
    even, at most the clip's."""
    if cfg.num_frames is not None:
        n = round(cfg.num_frames / FRAME_FACTOR) * FRAME_FACTOR
    else:
        low = math.ceil(FPS_MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
        high = math.floor(min(FPS_MAX_FRAMES, total) / FRAME_FACTOR) * FRAME_FACTOR
        n = min(max(total / video_fps * cfg.fps, low), high)
        n = round(n / FRAME_FACTOR) * FRAME_FACTOR
    n = min(n, total)
    if not FRAME_FACTOR <= n <= total:
        raise ValueError(f"a clip of {total} frames gives {n} frames to score")
    return n


def frame_size(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    """vision_process.smart_resize for videos: sides multiples of 28, the aspect kept, the
    area within [VIDEO_MIN_PIXELS, max_pixels]."""
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"aspect ratio above {MAX_RATIO}: {height} x {width}")
    f = IMAGE_FACTOR
    h, w = max(f, round(height / f) * f), max(f, round(width / f) * f)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h, w = math.floor(height / beta / f) * f, math.floor(width / beta / f) * f
    elif h * w < VIDEO_MIN_PIXELS:
        beta = math.sqrt(VIDEO_MIN_PIXELS / (height * width))
        h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return h, w


def sample_frames(frames: np.ndarray, video_fps: float, cfg: RewardConfig) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> the (N, 3, h, w) float frames the processor takes: N frames
    spread evenly, resized bicubic with antialiasing while still uint8 (fetch_video)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    n = frame_count(len(frames), video_fps, cfg)
    index = torch.linspace(0, len(frames) - 1, n).round().long()
    video = torch.as_tensor(frames)[index].permute(0, 3, 1, 2)
    size = list(frame_size(video.shape[2], video.shape[3], cfg.max_pixels))
    return F.resize(video, size, interpolation=InterpolationMode.BICUBIC, antialias=True).float()


def latest_checkpoint(folder: Path) -> Path:
    """utils.load_model_from_checkpoint: the checkpoint-N with the largest N."""
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if not found:
        raise FileNotFoundError(f"no checkpoint-N folder in {folder}")
    return found[-1]


def our_name(key: str) -> str:
    """An authors' parameter name (transformers 4.45 Qwen2-VL under peft) as transformers'
    current Qwen2-VL names it: visual.* under model.visual, the text model under
    model.language_model; peft's wrapper, adapter name and base_layer dropped."""
    key = key.removeprefix("base_model.model.").replace(".base_layer.", ".")
    key = re.sub(r"\.(lora_(?:embedding_)?[AB])\.default\b", r".\1", key)
    if key.startswith("visual."):
        return "model." + key
    if key.startswith("model.") and not key.startswith(("model.visual.", "model.language_model.")):
        return "model.language_model." + key.removeprefix("model.")
    return key


def merged_state(state: dict[str, torch.Tensor], lora: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights with each LoRA pair merged in as peft merges it: W + s B A for a linear
    layer, W + s (B A)^T for an embedding, s = alpha / r (alpha / sqrt r with rsLoRA)."""
    scale = lora["alpha"] / (math.sqrt(lora["r"]) if lora["rslora"] else lora["r"])
    out = {k: v for k, v in state.items() if ".lora_" not in k}
    for key in [k for k in state if k.endswith((".lora_A.weight", ".lora_embedding_A"))]:
        if key.endswith(".lora_A.weight"):
            module, b = key.removesuffix(".lora_A.weight"), state[key.replace("_A.", "_B.")]
            delta = b.float() @ state[key].float()
        else:
            module, b = key.removesuffix(".lora_embedding_A"), state[key[:-1] + "B"]
            delta = (b.float() @ state[key].float()).T
        weight = out[f"{module}.weight"]
        out[f"{module}.weight"] = (weight.float() + scale * delta).to(weight.dtype)
    return out


class RewardModel(torch.nn.Module):
    """Qwen2-VL with the authors' reward head: rm_head on the hidden state at each special
    reward token, its own aspect's output there (trainer.py: the diagonal when output_dim
    is 3)."""

    def __init__(self, vlm, special_ids: list[int], output_dim: int) -> None:
        super().__init__()
        self.vlm = vlm
        self.rm_head = torch.nn.Linear(vlm.config.text_config.hidden_size, output_dim, bias=False)
        self.special_ids = special_ids

    @torch.no_grad()
    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 3) raw VQ, MQ, TA rewards of a processed batch."""
        model, ids = self.vlm.model, batch["input_ids"]
        embeds = model.get_input_embeddings()(ids)
        video = model.get_video_features(batch["pixel_values_videos"], batch["video_grid_thw"])
        video = torch.cat(video.pooler_output).to(embeds.device, embeds.dtype)
        slots = (ids == self.vlm.config.video_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(slots, video)
        # No position ids: plain 1-D positions for every token, as the released model saw.
        hidden = model.language_model(
            inputs_embeds=embeds, attention_mask=batch["attention_mask"]
        ).last_hidden_state
        logits = self.rm_head(hidden)
        at = torch.isin(ids, torch.tensor(self.special_ids, device=ids.device))
        pooled = logits[at].view(len(ids), len(self.special_ids), -1)
        return pooled.diagonal(dim1=1, dim2=2) if pooled.shape[-1] == 3 else pooled[..., 0]


def load_reward_model(folder: Path, base: Path, cfg: RewardConfig, dtype: torch.dtype):
    """(model, processor) in eval mode on the CPU: the base Qwen2-VL, the special tokens added
    and the embeddings resized as train_reward.create_model_and_processor does, then the
    newest checkpoint's weights (LoRA merged) and the head."""
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(base, padding_side="right")
    processor.tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    special_ids = processor.tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    vlm = Qwen2VLForConditionalGeneration.from_pretrained(base, dtype=dtype)
    vlm.resize_token_embeddings(len(processor.tokenizer))
    model = RewardModel(vlm, special_ids, cfg.output_dim).to(dtype)
    state = {f"vlm.{k}": v for k, v in model.vlm.state_dict().items()}
    state["rm_head.weight"] = model.rm_head.weight
    state |= {_ours(k): v for k, v in checkpoint_state(latest_checkpoint(folder)).items()}
    if cfg.lora is not None:
        state = merged_state(state, cfg.lora)
    unknown = sorted(set(state) - set(model.state_dict()))
    if unknown:
        raise ValueError(f"{folder}: weights for no module of the model: {unknown[:3]}")
    if vlm.lm_head.weight is vlm.get_input_embeddings().weight:  # tied: one tensor, loaded once
        del state["vlm.lm_head.weight"]
    model.load_state_dict(state, strict=False)
    return model.eval(), processor


def _ours(key: str) -> str:
    name = our_name(key)
    return name if name.startswith("rm_head") else f"vlm.{name}"


def checkpoint_state(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The authors' saved weights: model.pth, or the LoRA adapters and the rest."""
    from safetensors.torch import load_file

    full = checkpoint / "model.pth"
    if full.is_file():
        return torch.load(full, map_location="cpu", weights_only=True)
    state = load_file(checkpoint / "adapter_model.safetensors")
    rest = torch.load(checkpoint / "non_lora_state_dict.pth", map_location="cpu", weights_only=True)
    return {**rest, **state}


class VideoRewardJudge(Judge):
    name = "videoreward"
    dimensions = (
        Dimension("vq", description="visual quality (VideoReward, normalised)"),
        Dimension("mq", description="motion quality (VideoReward, normalised)"),
        Dimension("ta", description="text alignment (VideoReward, normalised)"),
        Dimension("overall", description="VQ + MQ + TA, as the authors sum them"),
    )
    batch_size = 4

    def __init__(self, weights: Path | None = None) -> None:
        super().__init__(weights)
        self._loaded: tuple | None = None

    @property
    def folder(self) -> Path:
        return (self.weights or Path("<no --weights>")) / FOLDER

    @property
    def version(self) -> str:
        """This file's pipeline and the weights' config and checkpoint: scores of another
        setup are never mixed with these."""
        if self.unavailable() is not None:
            return PIPELINE_VERSION
        digest = hashlib.sha256((self.folder / "model_config.json").read_bytes())
        digest.update(latest_checkpoint(self.folder).name.encode())
        return f"{PIPELINE_VERSION}+{digest.hexdigest()[:8]}"

    def base_folder(self, cfg: RewardConfig) -> Path:
        given = Path(cfg.base)
        return given if given.is_dir() else self.folder.parent / given.name

    def unavailable(self) -> str | None:
        if self.weights is None:
            return f"needs --weights DIR holding {FOLDER}/ (the authors' KwaiVGI/VideoReward)"
        if not (self.folder / "model_config.json").is_file():
            return f"VideoReward's model_config.json not found in {self.folder}"
        if not any(self.folder.glob("checkpoint-*")):
            return f"no checkpoint-N folder in {self.folder}"
        try:
            cfg = RewardConfig.read(self.folder)
        except (ValueError, KeyError) as exc:  # JSONDecodeError is a ValueError
            return f"{self.folder / 'model_config.json'} is not one this judge reads: {exc}"
        if not (self.base_folder(cfg) / "config.json").is_file():
            return f"its base model not found in {self.base_folder(cfg)}"
        return None

    def _model(self):
        if self._loaded is None:
            cfg = RewardConfig.read(self.folder)
            dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
            model, processor = load_reward_model(self.folder, self.base_folder(cfg), cfg, dtype)
            device = "cuda" if torch.cuda.is_available() else "cpu"
            self._loaded = (model.to(device), processor, cfg)
        return self._loaded

    def score(self, items: list[VideoItem]) -> list[dict[str, float]]:
        out = []
        for start in range(0, len(items), self.batch_size):
            out += self.rewards(items[start : start + self.batch_size])
        return out

    def rewards(self, items: list[VideoItem]) -> list[dict[str, float]]:
        """inference.py's `reward`: raw rewards, normalised by the config's means and stds,
        and their sum."""
        model, processor, cfg = self._model()
        batch = processed_batch(processor, items, cfg)
        device = next(model.parameters()).device
        raw = model({k: v.to(device) for k, v in batch.items()}).float().cpu()
        out = []
        for row in raw:
            value = dict(zip(ASPECTS, row.tolist(), strict=True))
            if cfg.norm is not None:
                value = {
                    a: (v - cfg.norm[f"{a}_mean"]) / cfg.norm[f"{a}_std"] for a, v in value.items()
                }
            out.append({a.lower(): v for a, v in value.items()} | {"overall": sum(value.values())})
        return out


def processed_batch(
    processor, items: list[VideoItem], cfg: RewardConfig
) -> dict[str, torch.Tensor]:
    """inference.py's prepare_batch: one user turn per video (the video, then the template
    around its prompt), the chat template with the generation prompt, right padding."""
    chats = [
        [
            {
                "role": "user",
                "content": [
                    {"type": "video"},
                    {"type": "text", "text": prompt_text(item.prompt, cfg.template)},
                ],
            }
        ]
        for item in items
    ]
    videos = [sample_frames(item.frames, item.fps or 8.0, cfg) for item in items]
    batch = processor(
        text=processor.apply_chat_template(chats, tokenize=False, add_generation_prompt=True),
        videos=videos,
        padding=True,
        return_tensors="pt",
        videos_kwargs={"do_rescale": True},
    )
    return {
        k: batch[k]
        for k in ("input_ids", "attention_mask", "pixel_values_videos", "video_grid_thw")
    }

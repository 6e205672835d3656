"""The VideoReward judge against a straight re-statement of the authors' inference
(KwaiVGI/VideoAlign: inference.py, trainer.py, vision_process.py, utils.py) on a tiny random
Qwen2-VL saved in their layout: the same rewards on the same mp4 files and prompts; a version
that follows the config; one line without weights; `eval --judges videoreward` through the
CLI."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from evaluators.base import VideoItem
from evaluators.random_videoreward import save_random_videoreward
from evaluators.videoreward import DETAILED_SPECIAL, SPECIAL_TOKENS, VideoRewardJudge
from workbench import media
from workbench.app.compare import summary_rows
from workbench.cli import main
from workbench.store import Store

# sha256 of prompt_template.DETAILED_PROMPT_WITH_SPECIAL_TOKEN at KwaiVGI/VideoAlign 219ab9d.
OFFICIAL_TEMPLATE = "fdb6309bac618dd0c8b1b589d3a0970a974f7856eecbb355a190b2dce54af700"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    save_random_videoreward(folder)
    return folder


@pytest.fixture
def world(home):
    assert main(["world", "make", "--n", "6"]) == 0
    store = Store(home)
    rows = store.query(
        "SELECT s.prompt, v.id, v.path FROM samples s JOIN videos v ON v.id = s.video_id "
        "ORDER BY s.id LIMIT 3"
    )
    return store, rows


def official_frames(frames: np.ndarray, video_fps: float, cfg: dict) -> torch.Tensor:
    """vision_process.fetch_video after decoding, uniform sampling. (Decoding is the
    workbench's own, BT.601 in integers and the same on every machine; the authors' readers
    convert with FFmpeg's swscale, within 4 levels of it on these clips.)"""
    from torchvision import transforms

    video = torch.from_numpy(frames).permute(0, 3, 1, 2)
    total = len(video)
    nframes = total / video_fps * cfg["fps"]  # smart_nframes
    nframes = min(max(nframes, 4), math.floor(min(768, total) / 2) * 2)
    nframes = min(round(nframes / 2) * 2, total)
    video = video[torch.linspace(0, total - 1, nframes).round().long().tolist()]
    height, width = video.shape[2:]  # smart_resize(min_pixels=VIDEO_MIN_PIXELS)
    h, w = round(height / 28) * 28, round(width / 28) * 28
    if h * w > cfg["max_frame_pixels"]:
        beta = math.sqrt(height * width / cfg["max_frame_pixels"])
        h, w = math.floor(height / beta / 28) * 28, math.floor(width / beta / 28) * 28
    elif h * w < 128 * 28 * 28:
        beta = math.sqrt(128 * 28 * 28 / (height * width))
        h, w = math.ceil(height * beta / 28) * 28, math.ceil(width * beta / 28) * 28
    mode = transforms.InterpolationMode.BICUBIC
    return transforms.functional.resize(video, [h, w], interpolation=mode, antialias=True).float()


def official_rewards(folder, paths: list[str], prompts: list[str]) -> list[dict[str, float]]:
    """inference.VideoVLMRewardInference.reward, re-stated on transformers' current Qwen2-VL:
    the model built as create_model_and_processor builds it (special tokens, resized
    embeddings, peft LoRA on the language model), the checkpoint loaded as
    load_model_from_checkpoint loads it (adapter name inserted, the rest updated in), and
    Qwen2VLRewardModelBT.forward's steps."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoProcessor, Qwen2VLForConditionalGeneration

    raw = json.loads((folder / "model_config.json").read_text())
    data, lora, norm = raw["data_config"], raw["peft_lora_config"], raw["inference_config"]
    base = raw["model_config"]["model_name_or_path"]
    processor = AutoProcessor.from_pretrained(base, padding_side="right")
    processor.tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    special = processor.tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    model = Qwen2VLForConditionalGeneration.from_pretrained(base, dtype=torch.float32)
    model.resize_token_embeddings(len(processor.tokenizer))
    model.rm_head = torch.nn.Linear(model.config.text_config.hidden_size, 3, bias=False)
    targets = [
        n
        for n, m in model.model.language_model.named_modules()
        if isinstance(m, torch.nn.Linear | torch.nn.Embedding)
    ]
    config = LoraConfig(r=lora["lora_r"], lora_alpha=lora["lora_alpha"], lora_dropout=0.0)
    config.target_modules = targets
    model = get_peft_model(model, config)
    state = model.state_dict()
    checkpoint = folder / "checkpoint-1"
    from safetensors.torch import load_file

    saved = {
        **torch.load(checkpoint / "non_lora_state_dict.pth"),
        **load_file(checkpoint / "adapter_model.safetensors"),
    }
    for key, value in saved.items():
        key = key.replace("base_model.model.model.", "base_model.model.model.language_model.")
        key = key.replace(".lora_A.weight", ".lora_A.default.weight")
        key = key.replace(".lora_B.weight", ".lora_B.default.weight")
        key = key.replace("lora_embedding_A", "lora_embedding_A.default")
        key = key.replace("lora_embedding_B", "lora_embedding_B.default")
        assert key in state, key
        state[key] = value
    model.load_state_dict(state)
    model.eval()
    chats = [
        [
            {
                "role": "user",
                "content": [
                    {"type": "video", "video": f"file://{p}", "fps": data["fps"]},
                    {"type": "text", "text": DETAILED_SPECIAL.format(text_prompt=prompt)},
                ],
            }
        ]
        for p, prompt in zip(paths, prompts, strict=True)
    ]
    batch = processor(
        text=processor.apply_chat_template(chats, tokenize=False, add_generation_prompt=True),
        videos=[official_frames(*media.read_video(p), data) for p in paths],
        padding=True,
        return_tensors="pt",
        videos_kwargs={"do_rescale": True},
    )
    vlm = model.base_model.model
    with torch.no_grad():
        ids = batch["input_ids"]
        embeds = vlm.model.language_model.embed_tokens(ids)
        pixels = batch["pixel_values_videos"].type(vlm.model.visual.dtype)
        video = vlm.model.visual(pixels, grid_thw=batch["video_grid_thw"]).pooler_output
        mask = (ids == vlm.config.video_token_id).unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, video)
        hidden = vlm.model.language_model(
            inputs_embeds=embeds, attention_mask=batch["attention_mask"]
        )[0]
        logits = vlm.rm_head(hidden)
        at = torch.zeros_like(ids, dtype=torch.bool)
        for token in special:
            at = at | (ids == token)
        rewards = logits[at].view(len(ids), 3, -1).diagonal(dim1=1, dim2=2)
    out = []
    for row in rewards.tolist():
        r = {
            a: (v - norm[f"{a}_mean"]) / norm[f"{a}_std"]
            for a, v in zip(("VQ", "MQ", "TA"), row, strict=True)
        }
        out.append(r | {"Overall": r["VQ"] + r["MQ"] + r["TA"]})
    return out


def test_the_judge_gives_the_authors_rewards_on_the_same_videos(weights, world):
    store, rows = world
    paths = [str(store.home / r["path"]) for r in rows]
    prompts = [r["prompt"] for r in rows]
    expected = official_rewards(weights / "videoreward", paths, prompts)
    items = []
    for row, path in zip(rows, paths, strict=True):
        frames, fps = media.read_video(path)
        items.append(VideoItem(row["id"], frames, row["prompt"], fps=fps))
    judge = VideoRewardJudge(weights)
    got = judge.score(items)
    for ours, theirs in zip(got, expected, strict=True):
        for aspect in ("VQ", "MQ", "TA", "Overall"):
            assert ours[aspect.lower()] == pytest.approx(theirs[aspect], abs=1e-5), aspect
    assert len({round(g["ta"], 6) for g in got}) == 3  # the videos and prompts tell apart
    one = judge.score(items[:1])[0]  # a batch of one: no padding, the same rewards
    assert one["overall"] == pytest.approx(got[0]["overall"], abs=1e-4)
    assert hashlib.sha256(DETAILED_SPECIAL.encode()).hexdigest() == OFFICIAL_TEMPLATE


def test_the_version_follows_the_config_and_checkpoint_and_no_weights_is_one_line(tmp_path):
    folder = save_random_videoreward(tmp_path / "a")
    versions = {VideoRewardJudge(tmp_path / "a").version}
    config = json.loads((folder / "model_config.json").read_text())
    for field, value in (("fps", 1.0), ("max_frame_pixels", 100352)):
        changed = {**config, "data_config": {**config["data_config"], field: value}}
        (folder / "model_config.json").write_text(json.dumps(changed))
        versions.add(VideoRewardJudge(tmp_path / "a").version)
    (folder / "checkpoint-1").rename(folder / "checkpoint-2")
    versions.add(VideoRewardJudge(tmp_path / "a").version)
    assert len(versions) == 4, versions

    judge = VideoRewardJudge(tmp_path / "none")
    assert (
        judge.unavailable()
        == f"VideoReward's model_config.json not found in {tmp_path / 'none' / 'videoreward'}"
    )
    assert "needs --weights DIR" in VideoRewardJudge(None).unavailable()
    for base in (tmp_path / "a").glob("Qwen2-VL-*"):
        (base / "config.json").unlink()
    assert VideoRewardJudge(tmp_path / "a").unavailable().startswith("its base model not found in")


def test_eval_and_judge_mined_pairs_use_videoreward_through_the_cli(home, weights, capsys):
    """`eval --judges videoreward` scores each video on vq, mq, ta and overall; without
    --weights it says so in one line; `pairs mine --judges videoreward` ranks rollouts by
    its overall score."""
    assert main(["world", "make", "--n", "6"]) == 0
    with_weights = ["--judges", "videoreward", "--weights", str(weights)]
    assert main(["eval", "--ckpt", "gt", "--n", "2", *with_weights]) == 0
    store = Store(home)
    scores = store.query(
        "SELECT dimension, count(*) AS n FROM scores WHERE judge = 'videoreward' GROUP BY dimension"
    )
    assert {r["dimension"]: r["n"] for r in scores} == {"vq": 2, "mq": 2, "ta": 2, "overall": 2}
    vq = [
        r["value"]
        for r in store.query(
            "SELECT value FROM scores WHERE judge = 'videoreward' AND dimension = 'vq'"
        )
    ]
    (row,) = summary_rows(store, "shapes", "test", ["gt"])  # the app's Compare, no oracle ran
    assert row["VQ"].startswith(f"{np.mean(vq):.3f} ± ")
    capsys.readouterr()
    assert main(["eval", "--ckpt", "gt", "--n", "2", "--judges", "videoreward"]) == 1
    assert "needs --weights DIR" in capsys.readouterr().err

    assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
    mine = ["pairs", "mine", "--generator", "base", "--per-sample", "3", "--n", "2"]
    assert main([*mine, "--gap", "0", "--name", "m", *with_weights]) == 0
    overall = {
        r["video_id"]: r["value"]
        for r in store.query(
            "SELECT video_id, value FROM scores WHERE judge = 'videoreward' "
            "AND dimension = 'overall'"
        )
    }
    pairs = store.query("SELECT * FROM pairs WHERE pairset = 'm'")
    assert len(pairs) == 2
    for pair in pairs:
        assert json.loads(pair["provenance"])["judges"] == ["videoreward"]
        assert overall[pair["winner_video"]] > overall[pair["loser_video"]]

"""Real Wan2.1 pipelines (tiny, random, diffusers format) through the workbench's paths."""

import json

import pytest
import torch
from wan_fixtures import save_tiny_wan_pipeline

from workbench.cli import main
from workbench.models.loading import load_model
from workbench.sampling import SamplerSettings, sample_videos
from workbench.store import Store


@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_local_wan_pipeline_loads_generates_trains_lora_and_diffusers_reads_it(
    task, home, tmp_path, capsys
):
    from diffusers import DiffusionPipeline

    folder = save_tiny_wan_pipeline(tmp_path / f"wan-{task}", task)
    model = load_model(folder)
    assert model.task == task and model.codec.name == "wan-vae"
    videos = sample_videos(
        model,
        ["a red circle moves up"],
        [0],
        SamplerSettings(steps=2),
        frames=5,
        height=32,
        width=32,
        first_frames=torch.zeros(1, 32, 32, 3, dtype=torch.uint8).numpy(),
    )
    assert videos.shape == (1, 5, 32, 32, 3)

    # Wan's VAE needs 4k+1 frames and sides divisible by 16.
    assert main(["world", "make", "--n", "6", "--frames", "5", "--dataset", "w5"]) == 0
    train = [
        "--json",
        "train",
        "--name",
        "lora",
        "--init",
        str(folder),
        "--dataset",
        "w5",
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--lora-rank",
        "4",
        "--lr",
        "1e-2",
    ]
    capsys.readouterr()
    assert main(train) == 0
    ref = json.loads(capsys.readouterr().out)
    ckpt = home / "checkpoints" / "lora"
    assert (ckpt / "pytorch_lora_weights.safetensors").is_file()
    assert not (ckpt / "transformer").exists(), "a LoRA checkpoint holds only the adapter"
    assert ref["task"] == task

    assert main(["generate", "--ckpt", "lora", "--dataset", "w5", "--n", "1", "--steps", "2"]) == 0
    assert Store(home).query("SELECT count(*) AS n FROM generations")[0]["n"] == 1

    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    before = {k: v.clone() for k, v in pipe.transformer.state_dict().items()}
    pipe.load_lora_weights(ckpt)
    assert pipe.transformer.active_adapters()
    pipe.fuse_lora()
    pipe.unload_lora_weights()  # keeps the fused weights, drops the adapter layers
    changed = [
        k
        for k, v in pipe.transformer.state_dict().items()
        if k in before and not torch.equal(before[k], v)
    ]
    assert changed and all("attn" in k for k in changed)
    # The workbench's own loader merges the same adapter to the same weights.
    merged = load_model(ckpt).transformer.state_dict()
    for key in changed:
        torch.testing.assert_close(merged[key], pipe.transformer.state_dict()[key])


def test_folder_that_is_not_a_wan_model_is_refused(home, tmp_path, capsys):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline"}'
    )
    assert main(["world", "make", "--n", "2"]) == 0
    capsys.readouterr()
    assert main(["generate", "--ckpt", str(tmp_path / "other")]) == 1
    assert "is not a Wan2.1 pipeline" in capsys.readouterr().err

"""Real Wan2.1 pipelines (tiny, random, diffusers format) through the workbench's paths."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from workbench import media
from workbench.cli import main
from workbench.models.loading import load_model
from workbench.models.random_wan import save_random_wan_pipeline
from workbench.models.runtime import pick_runtime
from workbench.sampling import SamplerSettings, sample_videos
from workbench.store import Store


@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_local_wan_pipeline_loads_generates_trains_lora_and_diffusers_reads_it(
    task, home, tmp_path, capsys
):
    from diffusers import DiffusionPipeline

    folder = save_random_wan_pipeline(tmp_path / f"wan-{task}", task)
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


@pytest.mark.parametrize("device", ["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
@pytest.mark.parametrize("task", ["t2v", "i2v"])
def test_sampler_matches_the_diffusers_wan_pipeline(task, device, tmp_path, monkeypatch):
    """Same weights, UniPC with flow shift, seeds and guidance: the same final latents as
    WanPipeline / WanImageToVideoPipeline (I2V with a CLIP image encoder), fp32 both."""
    from diffusers import DiffusionPipeline

    # cuDNN convolutions default to TF32 on CUDA, whose rounding depends on the batch size:
    # the pipeline's separate cond / uncond passes would then differ from the batched ones.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)

    folder = save_random_wan_pipeline(tmp_path / task, task)
    model = load_model(folder)
    model.place(pick_runtime("fp32", device=device))
    settings = SamplerSettings.from_defaults(model.info["sampling"], steps=4)
    assert settings.scheduler == "unipc" and settings.guidance == 5.0
    prompts, seeds = ["a red circle moves up", "a blue square moves left"], [3, 11]
    first = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    ours = sample_videos(model, prompts, seeds, settings, 5, 32, 32, first, decode=False)

    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True).to(device)
    kw = dict(
        num_frames=5,
        height=32,
        width=32,
        num_inference_steps=4,
        guidance_scale=5.0,
        output_type="latent",
    )
    if task == "t2v":
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        theirs = pipe(prompt=prompts, generator=gens, **kw).frames
    else:  # the I2V pipeline takes one image per call
        theirs = torch.cat(
            [
                pipe(
                    prompt=p,
                    image=Image.fromarray(f),
                    generator=torch.Generator().manual_seed(s),
                    **kw,
                ).frames
                for p, f, s in zip(prompts, first, seeds, strict=True)
            ]
        )
    assert ours.abs().mean() > 0.1
    torch.testing.assert_close(ours, theirs.float().cpu(), atol=2e-4, rtol=2e-4)


def test_wan_i2v_with_clip_imports_caches_trains_regdpo_builds_gtpairs_and_evals(
    home, tmp_path, capsys
):
    """The whole loop on a Wan2.1-architecture I2V pipeline: real AutoencoderKLWan, UMT5 and
    CLIP vision classes, saved and loaded offline."""
    folder = save_random_wan_pipeline(tmp_path / "wan-i2v", "i2v")
    clips = tmp_path / "clips"
    clips.mkdir()
    rows = ["file,caption,split"]
    for i in range(6):
        frames = np.zeros((5, 32, 32, 3), np.uint8)
        for t in range(5):
            frames[t, 8 + 2 * t : 16 + 2 * t, 4 + 3 * i : 12 + 3 * i] = (40 * i, 200, 90)
        media.write_mp4(clips / f"c{i}.mp4", frames, 8)
        rows.append(f"c{i}.mp4,a green square {i} moves down,{'test' if i > 3 else 'train'}")
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    data = [
        "data",
        "import",
        "--videos",
        str(clips),
        "--captions",
        str(tmp_path / "captions.csv"),
        "--dataset",
        "real",
        "--frames",
        "5",
        "--size",
        "32x32",
        "--fps",
        "8",
    ]
    assert main(data) == 0
    assert main(["checkpoints", "add", "--name", "wan", "--path", str(folder)]) == 0
    gtpair = [
        "gtpair",
        "build",
        "--dataset",
        "real",
        "--generators",
        "wan",
        "--per-sample",
        "1",
        "--steps",
        "2",
        "--name",
        "gp",
    ]
    assert main(gtpair) == 0
    train = [
        "train",
        "--method",
        "regdpo",
        "--pairs",
        "gp",
        "--init",
        "wan",
        "--name",
        "rd",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--reference",
        "cached",
    ]
    assert main(train) == 0
    cache = home / "cache"
    latents = list((cache / "latents").rglob("*.safetensors"))
    conditions = list((cache / "conditions").rglob("*.safetensors"))
    assert len(latents) == 8 and len(conditions) == 4  # 4 winners + 4 losers; 4 first frames
    with safe_open(conditions[0], "pt") as fh:
        assert set(fh.keys()) == {"image_latents", "image_embeds"}
        assert fh.get_tensor("image_latents").shape == (20, 2, 4, 4)  # mask 4 + 16 channels
    stamp = {f: f.stat().st_mtime_ns for f in latents + conditions}
    assert main([*train, "--name", "rd2"]) == 0  # a second arm reuses them (last --name wins)
    assert {f: f.stat().st_mtime_ns for f in latents + conditions} == stamp
    capsys.readouterr()
    assert (
        main(
            [
                "--json",
                "eval",
                "--ckpt",
                "rd",
                "--dataset",
                "real",
                "--judges",
                "technical",
                "--steps",
                "2",
            ]
        )
        == 0
    )
    store = Store(home)
    scored = store.query("SELECT count(DISTINCT video_id) AS n FROM scores")[0]["n"]
    assert scored == 2  # the two test samples' videos of rd

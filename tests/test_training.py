import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from workbench.cli import main
from workbench.store import Store

SCRIPT = str(Path(sys.executable).parent / "workbench")
TRAIN = ["train", "--steps", "40", "--batch-size", "2", "--checkpoint-every", "4", "--lr", "1e-3"]


def _weights(home: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(
        home / "checkpoints" / name / "transformer" / "diffusion_pytorch_model.safetensors"
    )


@pytest.fixture
def world(home):
    assert main(["world", "make", "--n", "12"]) == 0
    return home


def test_resume_after_sigkill_gives_identical_weights(world):
    env = {**os.environ, "WORKBENCH_HOME": str(world)}
    subprocess.run([SCRIPT, *TRAIN, "--name", "straight"], env=env, check=True, capture_output=True)

    proc = subprocess.Popen(
        [SCRIPT, *TRAIN, "--name", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = world / "checkpoints" / "killed" / "training_state.pt"
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, (
        "the run must be killed mid-way for this test to mean anything"
    )
    saved_step = torch.load(state, weights_only=False)["step"]
    assert 0 < saved_step < 40

    assert main([*TRAIN, "--name", "killed"]) == 1  # refuses to overwrite an unfinished run
    assert main([*TRAIN, "--name", "killed", "--resume"]) == 0
    straight, resumed = _weights(world, "straight"), _weights(world, "killed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    # Metrics are complete and unique per step after the resume.
    store = Store(world)
    rows = store.query("""SELECT r.config->>'name' AS name, count(*) AS n FROM train_metrics m
                          JOIN runs r ON r.id = m.run_id WHERE m.name = 'loss' GROUP BY ALL""")
    assert {r["name"]: r["n"] for r in rows} == {"straight": 40, "killed": 40}


def test_one_config_and_seed_give_one_lora_run(world):
    """LoRA's A matrices come from the run's seed, not torch's global generator (two LoRA
    runs with `--seed 5` once ended 0.18 apart)."""
    assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
    lora = ["train", "--init", "base", "--steps", "3", "--batch-size", "2", "--lr", "1e-3"]
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        torch.manual_seed(int(name, 16))  # a different global state before each run
        assert main([*lora, "--name", name, "--seed", seed]) == 0
    a, b, c = (
        load_file(world / "checkpoints" / n / "pytorch_lora_weights.safetensors") for n in "abc"
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a), "another seed, another run"


def test_a_dataset_larger_than_the_memory_limit_trains_to_the_same_weights(world, monkeypatch):
    """9 training clips of 96 kB of latents each under a 200 kB RAM limit: the rest is read from the
    on-disk cache as steps need it. With activation checkpointing too, the weights equal
    those of an unconstrained run bit for bit."""
    import training.cache as cache

    caches: list[cache.RamCache] = []

    class Spy(cache.RamCache):
        def __init__(self, budget: int) -> None:
            super().__init__(budget)
            caches.append(self)

    monkeypatch.setattr(cache, "RamCache", Spy)
    monkeypatch.setattr("training.data.RamCache", Spy)
    run = ["train", "--steps", "6", "--batch-size", "4", "--lr", "1e-3"]
    assert main([*run, "--name", "free"]) == 0
    assert caches[-1].peak == 9 * 3 * 8 * 32 * 32 * 4  # everything held
    assert (
        main([*run, "--name", "tight", "--cache-ram-mb", "0.2", "--activation-checkpointing"]) == 0
    )
    assert 0 < caches[-1].peak <= 0.2 * 2**20 < caches[-2].peak
    files = list((world / "cache" / "latents").rglob("*.safetensors"))
    assert len(files) == 9, "each clip encoded once, shared by both runs"
    free, tight = _weights(world, "free"), _weights(world, "tight")
    assert all(torch.equal(free[k], tight[k]) for k in free)


def test_bad_training_inputs_fail_with_one_line(world, tmp_path, capsys):
    assert main(["train", "--name", "x", "--init", "nope", "--steps", "1"]) == 1
    assert "unknown checkpoint 'nope'" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["train", "--name", "x", "--init", str(tmp_path / "empty"), "--steps", "1"]) == 1
    assert "is not a model" in capsys.readouterr().err
    assert main(["train", "--name", "x", "--lr", "-1"]) == 1
    assert "bad training config" in capsys.readouterr().err
    assert main(["train", "--name", "x", "--method", "ppo"]) == 1
    assert "unknown method 'ppo'" in capsys.readouterr().err
    assert main(["train", "--name", "x", "--tiny-patch", "1,4"]) == 1
    assert "--tiny-patch must be three positive integers" in capsys.readouterr().err
    assert Store(world).query("SELECT count(*) AS n FROM checkpoints")[0]["n"] == 0


def test_checkpoint_for_another_resolution_is_refused(world, capsys):
    assert main(["train", "--name", "small", "--steps", "1", "--batch-size", "2"]) == 0
    assert main(["world", "make", "--n", "4", "--dataset", "big", "--size", "48"]) == 0
    capsys.readouterr()
    assert main(["generate", "--ckpt", "small", "--dataset", "big", "--n", "1"]) == 1
    err = capsys.readouterr().err
    assert "built for 8 frames at 32x32" in err and "48x48" in err
    assert (
        main(["train", "--name", "ft", "--init", "small", "--dataset", "big", "--steps", "1"]) == 1
    )
    assert "built for 8 frames at 32x32" in capsys.readouterr().err


def test_embedded_base_keeps_the_prompted_colour(home, capsys):
    """A short from-scratch I2V run already carries the object's colour through the clip:
    the conditioning, training and sampling chain works end to end (chance is 1/6)."""
    assert main(["world", "make", "--n", "256"]) == 0
    args = ["train", "--name", "base", "--task", "i2v", "--steps", "200", "--batch-size", "16"]
    args += ["--lr", "2e-3", "--warmup", "20", "--schedule", "cosine", "--t-shift", "3"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["--json", "eval", "--ckpt", "base", "--judges", "shapes-pf", "--n", "16"]) == 0
    scores = {r["dimension"]: r["mean"] for r in json.loads(capsys.readouterr().out)}
    assert scores["color"] >= 0.75 and scores["background"] >= 0.9

"""Crash safety of training: checkpoint folders replaced without a window that loses both
versions, a run that finishes can always be resumed or is registered, and a resumed DPO run
reuses its cached reference errors and ends where a straight run ends."""

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import training.run_record as run_record
import training.trainer as trainer
from workbench.atomic import atomic_directory, existing_version
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.store import Store


def test_a_crash_at_any_rename_keeps_a_complete_version(tmp_path, monkeypatch):
    target = tmp_path / "ckpt"
    with atomic_directory(target) as scratch:
        (scratch / "w").write_text("1")
    # Killed between the two renames: the old version is aside, the new one never arrived.
    os.replace(target, tmp_path / "ckpt.prev")
    (tmp_path / ".ckpt.dead.tmp").mkdir()
    assert existing_version(target) == tmp_path / "ckpt.prev"

    def crash(src, dst):
        raise OSError("killed at the rename")

    with monkeypatch.context() as m:  # the next write dies at its rename
        m.setattr(os, "replace", crash)
        with pytest.raises(OSError), atomic_directory(target) as scratch:
            (scratch / "w").write_text("2")
    assert (existing_version(target) / "w").read_text() == "1", "the only copy survived"
    with atomic_directory(target) as scratch:
        (scratch / "w").write_text("3")
    assert (target / "w").read_text() == "3"
    assert not (tmp_path / "ckpt.prev").exists() and not list(tmp_path.glob(".ckpt.*.tmp"))


@pytest.fixture
def pairs(home):
    assert main(["world", "make", "--n", "12"]) == 0
    base = ["train", "--name", "base", "--steps", "3", "--batch-size", "2", "--task", "i2v"]
    assert main(base) == 0
    assert main(["gtpair", "build", "--generators", "base", "--steps", "2"]) == 0
    return home


DPO = [
    "train",
    "--method",
    "dpo",
    "--pairs",
    "gt-shapes",
    "--init",
    "base",
    "--steps",
    "6",
    "--batch-size",
    "2",
    "--checkpoint-every",
    "2",
    "--lr",
    "1e-3",
]


def _lora(home: Path, name: str) -> dict[str, torch.Tensor]:
    return load_file(home / "checkpoints" / name / "pytorch_lora_weights.safetensors")


def test_a_resumed_dpo_run_reuses_its_cached_reference_and_matches_a_straight_run(
    pairs, monkeypatch
):
    assert main([*DPO, "--reference", "cached", "--name", "straight"]) == 0
    step = trainer.train_step

    def dies_at_step_3(*args, **kwargs):
        if kwargs.get("step", args[5] if len(args) > 5 else None) == 3:
            raise WorkbenchError("killed")
        return step(*args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(trainer, "train_step", dies_at_step_3)
        assert main([*DPO, "--reference", "cached", "--name", "resumed"]) == 1

    def recompute(*args, **kwargs):
        raise AssertionError("the cached reference was computed again on resume")

    monkeypatch.setattr(trainer, "precompute_reference", recompute)
    assert main([*DPO, "--reference", "cached", "--name", "resumed", "--resume"]) == 0
    straight, resumed = _lora(pairs, "straight"), _lora(pairs, "resumed")
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_crash_while_registering_leaves_a_run_that_resumes(pairs, monkeypatch):
    def crash(*args, **kwargs):
        raise WorkbenchError("killed while registering")

    with monkeypatch.context() as m:
        m.setattr(run_record, "register_checkpoint", crash)
        assert main([*DPO, "--name", "late"]) == 1
    assert not Store(pairs).query("SELECT 1 FROM checkpoints WHERE name = 'late'")
    assert main([*DPO, "--name", "late", "--resume"]) == 0
    assert Store(pairs).query("SELECT 1 FROM checkpoints WHERE name = 'late'")
    assert not (pairs / "checkpoints" / "late" / trainer.STATE_FILE).exists()

"""Numerical faults: NaN injected in a batch, in the reference and in the weights. A batch or a
reference that is not finite skips the step (recorded per step as `skipped`); too many in a
row stop the run, which is recorded as failed with the reason; weights that are not finite are
refused before anything trains on them, and never written."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import training.trainer as trainer
from workbench.cli import main
from workbench.store import Store

DPO = [
    "train",
    "--method",
    "dpo",
    "--pairs",
    "gt-shapes",
    "--init",
    "base",
    "--steps",
    "8",
    "--batch-size",
    "2",
    "--checkpoint-every",
    "2",
]


@pytest.fixture
def pairs(home):
    assert main(["world", "make", "--n", "12"]) == 0
    assert (
        main(["train", "--name", "base", "--steps", "2", "--batch-size", "2", "--task", "i2v"]) == 0
    )
    assert main(["gtpair", "build", "--generators", "base", "--steps", "2"]) == 0
    return home


def _run(store: Store, name: str) -> dict:
    return store.query("SELECT * FROM runs WHERE kind = 'train' AND config->>'name' = ?", [name])[0]


def _skipped(store: Store, run_id: str) -> list[float]:
    rows = store.query(
        "SELECT value FROM train_metrics WHERE run_id = ? AND name = 'skipped' ORDER BY step",
        [run_id],
    )
    return [r["value"] for r in rows]


def test_a_nan_in_one_pair_skips_the_steps_that_draw_it(pairs, monkeypatch):
    load = trainer.load_pairs

    def poisoned(*args, **kwargs):
        data = load(*args, **kwargs)
        held = data.winners.ram.get(data.winners.files[0], "latents")  # kept in RAM
        held.view(-1)[0] = torch.nan  # one pixel of one winner
        return data

    monkeypatch.setattr(trainer, "load_pairs", poisoned)
    assert main([*DPO, "--name", "poisoned", "--max-bad-steps", "100"]) == 0
    store = Store(pairs)
    run = _run(store, "poisoned")
    skipped = _skipped(store, run["id"])
    assert run["status"] == "done" and len(skipped) == 8
    assert 0 < sum(skipped) < 8, "only the batches holding the bad pair are skipped"
    lora = load_file(pairs / "checkpoints" / "poisoned" / "pytorch_lora_weights.safetensors")
    assert all(bool(torch.isfinite(t).all()) for t in lora.values())


def test_a_nan_reference_stops_the_run_and_its_record_says_why(pairs, monkeypatch, capsys):
    build = trainer.build_reference

    def nan_reference(*args, **kwargs):
        reference = build(*args, **kwargs)
        return lambda *a, **k: reference(*a, **k) * torch.nan

    monkeypatch.setattr(trainer, "build_reference", nan_reference)
    assert main([*DPO, "--name", "nanref", "--max-bad-steps", "3"]) == 1
    assert "3 non-finite steps in a row" in capsys.readouterr().err
    store = Store(pairs)
    run = _run(store, "nanref")
    assert run["status"] == "failed" and "non-finite" in run["message"]
    assert _skipped(store, run["id"]) == [1.0, 1.0, 1.0]
    assert not store.query("SELECT 1 FROM checkpoints WHERE name = 'nanref'")


def test_nan_weights_are_refused_before_training(pairs, tmp_path, capsys):
    folder = tmp_path / "nan-base"
    shutil.copytree(pairs / "checkpoints" / "base", folder)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    key = sorted(tensors)[0]
    tensors[key] = torch.full_like(tensors[key], torch.inf)
    save_file(tensors, weights)
    before = Store(pairs).query("SELECT count(*) AS n FROM runs")[0]["n"]
    args = ["train", "--name", "x", "--init", str(folder), "--steps", "2", "--batch-size", "2"]
    assert main(args) == 1
    assert f"non-finite weights (transformer/diffusion_pytorch_model.safetensors: {key})" in (
        capsys.readouterr().err
    )
    assert Store(pairs).query("SELECT count(*) AS n FROM runs")[0]["n"] == before
    assert json.loads((folder / "workbench.json").read_text())  # the folder is left as it was


def test_arms_sharing_a_reference_compute_its_errors_once(pairs, monkeypatch):
    """A cached reference's errors are a function of (reference weights, items, draws): the
    second arm on the same pairs computes none of them, and ends on the weights it would
    have reached computing them itself."""
    cached = ["--reference", "cached", "--checkpoint-every", "8"]
    assert main([*DPO, *cached, "--name", "dpo"]) == 0
    tables = list((pairs / "cache" / "reference").glob("*.pt"))
    assert len(tables) == 1 and len(torch.load(tables[0])) == 8 * 2  # one per position

    def no_forward(model):
        def errors(*args, **kwargs):
            raise AssertionError("the shared table should have had every reference error")

        return errors

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "lora_disabled_reference", no_forward)
        assert main([*DPO, *cached, "--method", "regdpo", "--name", "shared"]) == 0
    tables[0].unlink()
    assert main([*DPO, *cached, "--method", "regdpo", "--name", "alone"]) == 0
    shared, alone = (
        load_file(pairs / "checkpoints" / n / "pytorch_lora_weights.safetensors")
        for n in ("shared", "alone")
    )
    assert all(torch.equal(shared[k], alone[k]) for k in shared)

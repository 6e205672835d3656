"""GT-Pair building and DPO / Reg-DPO training on the embedded world."""

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from training.cache import RamCache, Shelf
from training.config import TrainConfig
from training.data import TrainingSet, batch_draws
from training.objectives import preference_objective
from training.reference import CachedReference, FrozenReference, lora_disabled_reference
from training.timesteps import sample_timesteps
from training.trainer import precompute_reference
from workbench import media
from workbench.cli import main
from workbench.models.loading import apply_lora
from workbench.models.runtime import Runtime
from workbench.models.tiny import TinyWanConfig, build_tiny_wan
from workbench.store import Store
from workbench.world.shapes import WorldConfig, make_sample, vocabulary

DIAGNOSTICS = {
    "loss",
    "dpo",
    "sft",
    "dgr",
    "r",
    "s",
    "win_gap",
    "lose_gap",
    "implicit_acc",
    "grad_norm",
    "lr",
    "skipped",
}


def _shelf(tensors: torch.Tensor, folder) -> Shelf:
    folder.mkdir()
    files = [folder / f"{i}.safetensors" for i in range(len(tensors))]
    for file, tensor in zip(files, tensors, strict=True):
        save_file({"latents": tensor.contiguous()}, file)
    return Shelf(files, "latents", RamCache(1 << 30))


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_three_references_give_the_same_loss_on_the_same_batch(precision, device, tmp_path):
    # bf16 is the CUDA default (frozen weights bf16, bf16 autocast); CPU autocast runs it too.
    runtime = Runtime(torch.device(device), precision)
    model = build_tiny_wan(TinyWanConfig(layers=2), "t2v", 8, 32, 32, 8, vocabulary())
    samples = [make_sample(WorldConfig(), 0, i) for i in range(4)]
    winners = model.codec.encode(np.stack([s.frames for s in samples]))
    losers = _shelf(winners.flip(0) * 0.9, tmp_path / "l")
    data = TrainingSet(_shelf(winners, tmp_path / "w"), losers, [s.prompt for s in samples], 8)
    runtime.freeze(model.transformer)  # as make_trainable: the LoRA base is frozen
    apply_lora(model.transformer, rank=4, alpha=8.0)
    model.place(runtime)
    copy = FrozenReference(model, runtime)  # the adapters are not copied
    assert not any("lora" in n for n, _ in copy.network.named_parameters())
    with torch.no_grad():  # move the adapter so that the model differs from its reference
        for name, p in model.transformer.named_parameters():
            if "lora_B" in name:
                gen = torch.Generator().manual_seed(len(name))
                p.data = (0.05 * torch.randn(p.shape, generator=gen)).to(p.device)
            elif "lora_A" in name:
                p.data = p.data.float()
    cfg = TrainConfig(
        method="regdpo", pairs="p", init="x", steps=1, batch_size=4, precision=precision
    )
    lora = lora_disabled_reference(model)
    cached = CachedReference(precompute_reference(model, data, cfg, lora, runtime))
    draws = batch_draws(data, 0, 4, cfg.seed, sample_timesteps, 0.0)
    cond = data.condition(model, draws.items, [data.prompts[i] for i in draws.items])
    with runtime.autocast():
        losses = [
            preference_objective(model, data, draws, cond, runtime.device, cfg, ref)
            for ref in (lora, copy, cached)
        ]
    values = [loss.item() for loss, _ in losses]
    assert abs(losses[0][1]["s"]) > 1e-4, "the test needs a model that differs from its reference"
    assert values[1] == pytest.approx(values[0], rel=1e-5)
    assert values[2] == pytest.approx(values[0], rel=1e-5)


@pytest.fixture
def base(home):
    assert main(["world", "make", "--n", "16"]) == 0
    assert (
        main(["train", "--name", "base", "--steps", "10", "--batch-size", "4", "--task", "i2v"])
        == 0
    )
    return home


def test_gtpair_dpo_and_regdpo_end_to_end(base, capsys):
    assert (
        main(
            [
                "--json",
                "gtpair",
                "build",
                "--generators",
                "base",
                "--per-sample",
                "2",
                "--steps",
                "3",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    store = Store(base)
    train_ids = {r["id"] for r in store.query("SELECT id FROM samples WHERE split = 'train'")}
    assert summary["pairs"] == 2 * len(train_ids) and summary["samples"] == len(train_ids)
    pair = store.query("""SELECT p.*, s.video_id AS gt FROM pairs p
                          JOIN samples s ON s.id = p.sample_id LIMIT 1""")[0]
    assert pair["winner_video"] == pair["gt"] and pair["loser_video"] != pair["gt"]
    assert json.loads(pair["provenance"])["generator"] == "base"

    for method in ("dpo", "regdpo"):
        args = [
            "train",
            "--method",
            method,
            "--pairs",
            "gt-shapes",
            "--init",
            "base",
            "--name",
            method,
            "--steps",
            "12",
            "--batch-size",
            "4",
            "--lr",
            "1e-3",
        ]
        assert main(args) == 0
        assert main(["generate", "--ckpt", method, "--n", "2", "--steps", "3"]) == 0
    rows = store.query("""SELECT r.config->>'name' AS run, m.name, m.step, m.value
                          FROM train_metrics m JOIN runs r ON r.id = m.run_id""")
    for method in ("dpo", "regdpo"):
        names = {r["name"] for r in rows if r["run"] == method}
        assert names >= DIAGNOSTICS and any(n.startswith("acc_t") for n in names)
        first = {r["name"]: r["value"] for r in rows if r["run"] == method and r["step"] == 1}
        assert first["dgr"] == pytest.approx(500 / 4, rel=1e-4)  # theta = ref at the start
        assert first["s"] == 0
        assert first["r"] == (0.0 if method == "dpo" else pytest.approx(first["dgr"]))
    videos = store.query("SELECT checkpoint FROM generations")
    assert {"dpo", "regdpo"} <= {v["checkpoint"] for v in videos}


def test_bad_preference_inputs_fail_cleanly(base, tmp_path, capsys):
    from helpers import snapshot

    from workbench.models.random_wan import save_random_wan_pipeline

    assert main(["gtpair", "build", "--generators", "base", "--n", "3", "--steps", "2"]) == 0
    store = Store(base)
    dpo = ["train", "--method", "dpo", "--pairs", "gt-shapes", "--init", "base", "--steps", "1"]
    cases = [
        (["train", "--method", "ppo", "--name", "x"], "unknown method 'ppo'"),
        ([*dpo, "--name", "x", "--beta", "0"], "beta must be > 0"),
        (["train", "--method", "dpo", "--init", "base", "--name", "x"], "trains on pairs"),
        (
            [
                *dpo,
                "--name",
                "x",
                "--ref-ckpt",
                str(save_random_wan_pipeline(tmp_path / "w", "t2v")),
                "--reference",
                "copy",
            ],
            "another architecture",
        ),
    ]
    before = snapshot(store)
    for args, message in cases:
        capsys.readouterr()
        assert main(args) == 1, args
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], err
    # A pair whose loser has another size than its winner.
    pair = store.query("SELECT * FROM pairs LIMIT 1")[0]
    odd = media.write_mp4(tmp_path / "odd.mp4", np.zeros((8, 16, 16, 3), np.uint8), fps=8)
    with store.write() as con:
        row = ["odd", "odd", str(odd), 8, 16, 16, 8, "external", None]
        con.execute("INSERT INTO videos VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())", row)
        con.execute("UPDATE pairs SET loser_video = 'odd' WHERE id = ?", [pair["id"]])
    before = snapshot(store)
    assert main([*dpo, "--name", "x"]) == 1
    assert "differ in shape" in capsys.readouterr().err
    assert snapshot(store) == before
    assert not (base / "checkpoints" / "x").exists()


def test_non_finite_steps_are_skipped_then_the_run_stops(base, monkeypatch, capsys):
    import training.trainer as trainer

    def nan_objective(*args, **kwargs):
        return torch.tensor(float("nan"), requires_grad=True), {"loss": float("nan")}

    monkeypatch.setattr(trainer, "sft_objective", nan_objective)
    args = [
        "train",
        "--name",
        "nan",
        "--init",
        "base",
        "--steps",
        "10",
        "--max-bad-steps",
        "3",
        "--checkpoint-every",
        "1",
        "--batch-size",
        "2",
    ]
    assert main(args) == 1
    assert "3 non-finite steps in a row" in capsys.readouterr().err
    store = Store(base)
    skipped = store.query("""SELECT m.value FROM train_metrics m JOIN runs r ON r.id = m.run_id
                             WHERE r.config->>'name' = 'nan' AND m.name = 'skipped'
                             ORDER BY m.step""")
    assert [r["value"] for r in skipped] == [1.0, 1.0, 1.0]
    assert not store.query("SELECT * FROM checkpoints WHERE name = 'nan'")


def test_a_simulated_annotator_follows_its_judges_and_says_it_is_simulated(base, capsys):
    store = Store(base)
    sim = ["--json", "pairs", "simulate", "--generator", "base", "--n", "6"]
    assert main([*sim, "--name", "oracle", "--noise", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["agreement_with_oracle"] == 1.0
    rollouts = {r["video_id"] for r in store.query("SELECT video_id FROM generations")}
    pairs = store.query("SELECT * FROM pairs WHERE pairset = 'oracle'")
    assert 0 < len(pairs) <= 6
    for pair in pairs:
        prov = json.loads(pair["provenance"])
        assert pair["kind"] == "annotated" and prov["annotator"] == "simulated"
        assert {pair["winner_video"], pair["loser_video"]} <= rollouts, "rollouts, not the truth"
        assert prov["utility"][0] >= prov["utility"][1]

    generations = len(rollouts)
    assert main([*sim, "--name", "noisy", "--noise", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["agreement_with_oracle"] < 1.0
    assert store.query("SELECT count(*) AS n FROM generations")[0]["n"] == generations, "cached"

    from workbench.report.queries import pairset_label

    assert "SIMULATED annotator (shapes-vq + shapes-pf, noise 10.0)" in pairset_label(
        store, "noisy"
    )
    for args, message in [
        (["--name", "noisy"], "exists"),
        (["--name", "x", "--per-sample", "1"], "--per-sample must be >= 2"),
        (["--name", "x", "--noise", "-1"], ">= 0"),
    ]:
        assert main([*sim, *args]) == 1
        assert message in capsys.readouterr().err


def test_i2v_condition_pads_with_exact_grey_and_dpo_drops_no_prompts():
    """The padding frames after the first are 0 in [-1, 1] pixels, as the pipeline builds
    them (uint8 128 would be 0.0039); DPO and Reg-DPO keep every prompt unless told."""
    model = build_tiny_wan(TinyWanConfig(layers=1), "i2v", 8, 32, 32, 8, vocabulary())
    first = np.full((2, 32, 32, 3), 200, np.uint8)
    latents, embeds = model.image_condition(first, 8)
    mask, pixels = latents[:, :1], latents[:, 1:]
    assert embeds is None and mask[:, :, 0].eq(1).all() and mask[:, :, 1:].eq(0).all()
    assert pixels[:, :, 0].eq(200 / 127.5 - 1).all() and pixels[:, :, 1:].eq(0).all()
    assert TrainConfig(method="sft").dropout == 0.1
    assert TrainConfig(method="regdpo", pairs="p").dropout == 0.0
    assert TrainConfig(method="dpo", pairs="p", prompt_dropout=0.2).dropout == 0.2


def test_compiled_blocks_train_to_the_eager_weights(base, capsys):
    """`--compile` (torch.compile per transformer block) changes the speed, not the run: a
    Reg-DPO LoRA run (the study's cached reference) has the eager run's losses and lands on
    its weights up to float rounding (Adam turns rounding in near-zero gradients into steps
    of up to lr, so single elements may differ by that much); several processes refuse it in
    one line."""
    assert main(["gtpair", "build", "--generators", "base", "--steps", "2"]) == 0
    run = [
        "train",
        "--method",
        "regdpo",
        "--pairs",
        "gt-shapes",
        "--init",
        "base",
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--lr",
        "1e-3",
        "--reference",
        "cached",
    ]
    assert main([*run, "--name", "eager"]) == 0
    assert main([*run, "--name", "compiled", "--compile"]) == 0
    rows = Store(base).query("""SELECT r.config->>'name' AS run, m.step, m.value
                                FROM train_metrics m JOIN runs r ON r.id = m.run_id
                                WHERE m.name = 'loss' ORDER BY m.step""")
    losses = {n: [r["value"] for r in rows if r["run"] == n] for n in ("eager", "compiled")}
    assert len(losses["eager"]) == 3
    # The compiled run's reference table is its own, made by the same compiled graph as its
    # policy (the eager run's is not shared with it), so at step 0 policy = reference: s = 0.
    first_s = Store(base).query("""SELECT r.config->>'name' AS run, m.value FROM train_metrics m
                                   JOIN runs r ON r.id = m.run_id
                                   WHERE m.name = 's' AND m.step = 1""")
    assert {r["run"]: r["value"] for r in first_s} == {"eager": 0.0, "compiled": 0.0}
    assert len(list((base / "cache" / "reference").glob("*.pt"))) == 2
    assert losses["compiled"] == pytest.approx(losses["eager"], rel=1e-4)
    eager, compiled = (
        load_file(base / "checkpoints" / n / "pytorch_lora_weights.safetensors")
        for n in ("eager", "compiled")
    )
    assert eager.keys() == compiled.keys()
    for k in eager:  # Adam moves an element by at most about lr a step, whatever the rounding
        assert (compiled[k] - eager[k]).abs().max() <= 3 * 1e-3, k
    # What was learnt (lora_B starts at zero) agrees as a whole: a few near-zero gradients that
    # round to the other sign move single elements by up to lr, and the element-wise gap that
    # leaves depends on the processor's vector width (1.1e-4 on AVX-512 here, under 1e-4 on AVX2).
    learnt = [k for k in eager if "lora_B" in k]
    gap = torch.cat([(compiled[k] - eager[k]).flatten() for k in learnt]).norm()
    size = torch.cat([eager[k].flatten() for k in learnt]).norm()
    assert gap <= 1e-2 * size, (float(gap), float(size))  # measured 1.5e-4 of it here
    assert any(v.abs().max() > 1e-4 for k, v in compiled.items() if "lora_B" in k), "trained"
    capsys.readouterr()
    assert main([*run, "--name", "two", "--compile", "--nproc", "2"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: --compile runs on one process (untried with FSDP2 and CP)"
    )


def test_the_reference_cache_key_names_everything_the_errors_depend_on():
    """Two runs share a cached reference table only where every number in it would agree."""
    from types import SimpleNamespace

    from training.parallel import ParallelPlan
    from training.trainer import reference_key

    cfg = TrainConfig(method="regdpo", pairs="p", init="base", steps=1)
    data, net = SimpleNamespace(fingerprint="items"), SimpleNamespace(fingerprint="weights")
    runtime = SimpleNamespace(precision="fp32", device=torch.device("cpu"))
    numerics = {"layout": ParallelPlan().to_dict(), "compiled": False, "attention": "native"}
    args = dict(cfg=cfg, data=data, runtime=runtime, network=net, kind="lora", numerics=numerics)
    key = reference_key(**args)
    assert key == reference_key(**args)
    other_seed = TrainConfig(method="regdpo", pairs="p", init="base", steps=1, seed=1)
    changes = [
        {"numerics": numerics | {"compiled": True}},
        {"numerics": numerics | {"layout": ParallelPlan(nproc=2, dp_shard=2).to_dict()}},
        {"numerics": numerics | {"attention": "flash"}},
        {"kind": "copy"},
        {"cfg": other_seed},
        {"runtime": SimpleNamespace(precision="bf16", device=torch.device("cpu"))},
        {"data": SimpleNamespace(fingerprint="other items")},
    ]
    for change in changes:
        assert reference_key(**(args | change)) != key, change
    assert reference_key(**(args | {"network": None})) is None, "from scratch: nothing shared"


def test_a_frozen_copy_is_cast_while_copying():
    """The frozen reference of a full fine-tune under bf16: the layers the autocast runs in
    bf16 are bf16 (never an fp32 duplicate first), what the model keeps in fp32 stays fp32,
    the trained model is untouched, and the copy equals freezing a plain deep copy."""
    import copy

    transformer = build_tiny_wan(
        TinyWanConfig(layers=1), "t2v", 8, 32, 32, 8, vocabulary()
    ).transformer
    runtime = Runtime(torch.device("cpu"), "bf16")
    frozen = runtime.frozen_copy(transformer)
    plain = runtime.freeze(copy.deepcopy(transformer))
    dtypes = {name: p.dtype for name, p in frozen.named_parameters()}
    assert dtypes["blocks.0.attn1.to_q.weight"] == torch.bfloat16
    assert dtypes["blocks.0.scale_shift_table"] == torch.float32  # kept in fp32 by Wan
    assert dtypes["blocks.0.attn1.norm_q.weight"] == torch.float32  # a norm scale, not a matmul
    assert all(p.dtype == torch.float32 and p.requires_grad for p in transformer.parameters())
    assert not any(p.requires_grad for p in frozen.parameters())
    for (name, a), (_, b) in zip(
        frozen.state_dict().items(), plain.state_dict().items(), strict=True
    ):
        assert a.dtype == b.dtype and torch.equal(a, b), name

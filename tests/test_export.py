"""`workbench checkpoints export`: a LoRA and a full fine-tune exported into folders diffusers
loads as they are (the same weights the workbench trained), each with a model card in the
Hub's format whose numbers are the store's."""

import os

import pytest
import torch
from diffusers import WanPipeline, WanTransformer3DModel
from huggingface_hub import ModelCard
from safetensors.torch import load_file

from workbench.cli import main
from workbench.report import report_tables
from workbench.report.tables import headline
from workbench.store import Store


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("export")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        for args in (
            ["world", "make", "--n", "12"],
            ["train", "--name", "base", "--steps", "3", "--batch-size", "4"],
            ["gtpair", "build", "--generators", "base", "--n", "4", "--steps", "2"],
            [
                "train",
                "--method",
                "regdpo",
                "--pairs",
                "gt-shapes",
                "--init",
                "base",
                "--name",
                "r",
                "--steps",
                "2",
                "--batch-size",
                "4",
            ],
            [
                "train",
                "--method",
                "sft",
                "--init",
                "base",
                "--full",
                "--name",
                "f",
                "--steps",
                "2",
                "--batch-size",
                "4",
            ],
            ["eval", "--ckpt", "base", "--ckpt", "r", "--n", "4", "--steps", "2"],
        ):
            assert main(args) == 0, args
    finally:
        os.environ.pop("WORKBENCH_HOME") if old is None else os.environ.update(WORKBENCH_HOME=old)
    return home


def test_a_lora_export_loads_in_diffusers_and_its_card_is_the_store(trained, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["--home", str(trained), "checkpoints", "export", "r", "--out", str(out)]) == 0
    mine = load_file(trained / "checkpoints" / "r" / "pytorch_lora_weights.safetensors")
    # What WanPipeline.load_lora_weights does: read the folder, then load into the transformer.
    theirs, metadata = WanPipeline.lora_state_dict(out, return_lora_metadata=True)
    assert theirs.keys() == mine.keys() and all(torch.equal(theirs[k], mine[k]) for k in mine)
    base = WanTransformer3DModel.from_pretrained(trained / "checkpoints" / "base" / "transformer")
    base.load_lora_adapter(theirs, prefix="transformer", metadata=metadata)
    (config,) = base.peft_config.values()
    assert (config.r, config.lora_alpha) == (16, 32.0)

    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "base" and card.data.library_name == "diffusers"
    assert "lora" in card.data.tags and "regdpo" in card.data.tags
    metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    t = report_tables(Store(trained), "shapes", "test", ["r", "base"], reference="base")
    for label, value in headline(t.scores["r"]).items():
        assert metrics[f"mean_{label}"] == pytest.approx(value)
    for row in t.gsb:
        assert metrics[f"win_rate_vs_base_{row['aspect']}"] == pytest.approx(row["win_rate"])
    assert "GT-Pairs: real video beats a base rollout" in card.text
    assert "| seed | 0 |" in card.text

    assert main(["--home", str(trained), "checkpoints", "export", "r", "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err


def test_a_full_fine_tune_export_loads_with_from_pretrained(trained, tmp_path):
    out = tmp_path / "f"
    assert main(["--home", str(trained), "checkpoints", "export", "f", "--out", str(out)]) == 0
    loaded = WanTransformer3DModel.from_pretrained(out, subfolder="transformer").state_dict()
    mine = load_file(
        trained / "checkpoints" / "f" / "transformer" / "diffusion_pytorch_model.safetensors"
    )
    assert loaded.keys() == mine.keys() and all(torch.equal(loaded[k], mine[k]) for k in mine)
    card = ModelCard.load(out / "README.md")
    assert "lora" not in card.data.tags and "Not evaluated yet" in card.text

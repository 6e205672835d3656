"""The shipped bases of the shapes world: small, reproducible, and each as its study needs it:
the tiny base reads colour and motion from the prompt; the tiny-early base (the main job's)
reads colour but leaves prompt following (motion) and visual quality room to improve."""

import json

import pytest

from workbench.cli import main
from workbench.models import EMBEDDED_BASES


@pytest.mark.parametrize("preset", list(EMBEDDED_BASES))
def test_a_shipped_base_loads_and_reads_the_prompt_as_its_study_needs(preset, home, capsys):
    folder = EMBEDDED_BASES[preset]
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 10 * 2**20
    recipe = json.loads((folder / "REPRODUCE.json").read_text())
    assert recipe["seed"] == 0 and recipe["code_version"] and len(recipe["commands"]) == 2
    assert main(["world", "make", "--n", "96"]) == 0  # the first clips of the study's world
    assert main(["checkpoints", "add", "--name", "base", "--embedded", preset]) == 0
    capsys.readouterr()
    assert (
        main(["--json", "eval", "--ckpt", "base", "--judges", "shapes-pf,shapes-vq", "--n", "16"])
        == 0
    )
    means = {(r["judge"], r["dimension"]): r["mean"] for r in json.loads(capsys.readouterr().out)}
    assert means["shapes-pf", "color"] >= 0.75, means  # chance: 1/6
    if preset == "tiny":
        assert means["shapes-pf", "motion"] >= 0.75, means  # chance: 1/4
    else:  # room to improve on both aspects
        assert means["shapes-pf", "motion"] <= 0.5 and means["shapes-vq", "overall"] <= 0.7, means
    assert main(["checkpoints", "add", "--name", "base", "--embedded", preset]) == 1
    assert "already registered" in capsys.readouterr().err

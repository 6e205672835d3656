"""The shipped base of the shapes world: small, reproducible, and it reads colour and motion
from the prompt (what the tiny study builds on)."""

import json

from workbench.cli import main
from workbench.models import EMBEDDED_BASES


def test_the_shipped_base_loads_and_reads_colour_and_motion(home, capsys):
    size = sum(f.stat().st_size for f in EMBEDDED_BASES["tiny"].rglob("*") if f.is_file())
    assert size < 10 * 2**20
    recipe = json.loads((EMBEDDED_BASES["tiny"] / "REPRODUCE.json").read_text())
    assert recipe["seed"] == 0 and recipe["code_version"] and len(recipe["commands"]) == 2
    assert main(["world", "make", "--n", "96"]) == 0  # the first clips of the study's world
    assert main(["checkpoints", "add", "--name", "base", "--embedded"]) == 0
    capsys.readouterr()
    assert main(["--json", "eval", "--ckpt", "base", "--judges", "shapes-pf", "--n", "16"]) == 0
    means = {r["dimension"]: r["mean"] for r in json.loads(capsys.readouterr().out)}
    assert means["color"] >= 0.75 and means["motion"] >= 0.75, means  # chance: 1/6, 1/4
    assert main(["checkpoints", "add", "--name", "base", "--embedded"]) == 1
    assert "already registered" in capsys.readouterr().err

"""Videos made elsewhere, scored and reported like a checkpoint."""

import json

import numpy as np
from helpers import snapshot

from workbench import media
from workbench.cli import main
from workbench.datasets import load_gt_frames, load_samples
from workbench.store import Store


def test_a_folder_of_clips_becomes_a_source_and_its_own_dataset(home, tmp_path, capsys):
    folder = tmp_path / "clips"
    lines = ["file,prompt"]
    for i in range(3):
        frames = np.full((10, 24, 40, 3), 40 * i, np.uint8)
        frames[:, :, : 4 + 2 * i] = 250
        media.write_mp4(folder / f"c{i}.mp4", frames, fps=10)
        lines.append(f"c{i}.mp4,clip number {i}")
    (tmp_path / "prompts.csv").write_text("\n".join(lines))
    capsys.readouterr()
    args = [
        "--json",
        "eval",
        "--videos",
        str(folder),
        "--prompts",
        str(tmp_path / "prompts.csv"),
        "--name",
        "real",
    ]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["judge"] for r in rows} == {"technical", "vbench"}
    assert {r["n"] for r in rows} == {3} and {r["checkpoint"] for r in rows} == {"real"}
    store = Store(home)
    assert (
        store.query("SELECT method FROM checkpoints WHERE name = 'real'")[0]["method"] == "videos"
    )
    assert main(["eval", "--ckpt", "real", "--dataset", "real"]) == 0, (
        "scored again like a checkpoint"
    )
    assert main(["report", "--ckpt", "gt", "--ckpt", "real", "--dataset", "real"]) == 0


def test_outputs_on_our_prompts_are_matched_to_samples(home, tmp_path, capsys):
    assert main(["world", "make", "--n", "12"]) == 0
    store = Store(home)
    test = load_samples(store, "shapes", "test")[:2]
    folder = tmp_path / "outputs"
    lines = ["file,prompt"]
    for i, sample in enumerate(test):
        media.write_mp4(folder / f"o{i}.mp4", load_gt_frames(store, sample), fps=8)
        lines.append(f'o{i}.mp4,"{sample["prompt"]}"')
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("\n".join(lines))
    capsys.readouterr()
    args = ["--json", "eval", "--videos", str(folder), "--prompts", str(prompts), "--name", "other"]
    assert main([*args, "--dataset", "shapes", "--judges", "shapes-pf"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["dimension"]: r["mean"] for r in rows}["overall"] == 1.0

    prompts.write_text("file,prompt\no0.mp4,a purple hexagon\n")
    before = snapshot(store)
    assert (
        main(
            [
                "eval",
                "--videos",
                str(folder),
                "--prompts",
                str(prompts),
                "--name",
                "x",
                "--dataset",
                "shapes",
            ]
        )
        == 1
    )
    assert "'a purple hexagon' is not in dataset 'shapes'" in capsys.readouterr().err
    assert snapshot(store) == before

import json

import numpy as np
from PIL import Image

from workbench import media
from workbench.cli import main
from workbench.store import Store


def test_generate_writes_videos_with_provenance_and_reuses_them(home, capsys):
    assert main(["world", "make", "--n", "12"]) == 0
    assert main(["train", "--name", "b", "--steps", "2", "--batch-size", "2", "--task", "i2v"]) == 0
    capsys.readouterr()
    args = ["--json", "generate", "--ckpt", "b", "--n", "3", "--steps", "3"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert [r["new"] for r in first] == [True, True, True]
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert [r["new"] for r in second] == [False] * 3
    assert [r["video_id"] for r in second] == [r["video_id"] for r in first]

    store = Store(home)
    gens = store.query("SELECT * FROM generations g JOIN videos v ON v.id = g.video_id")
    assert len(gens) == 3 and {g["checkpoint"] for g in gens} == {"b"}
    assert json.loads(gens[0]["settings"])["steps"] == 3
    frames, _ = media.read_video(store.path(gens[0]["path"]))
    assert frames.shape == (8, 32, 32, 3)
    assert main(["--json", "checkpoints"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["method"], listed["videos"]) == ("b", "sft", 3)
    # Another setting is another video; the same seed is the same video.
    assert main(["--json", "generate", "--ckpt", "b", "--n", "1", "--steps", "4"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["new"] is True

    # A contact sheet puts the checkpoint's video under each clip, generated once.
    sheet = home / "sheet.png"
    before = len(store.query("SELECT key FROM generations"))
    for _ in range(2):
        args = ["data", "sheet", "--split", "test", "--n", "2", "--ckpt", "b", "--out", str(sheet)]
        assert main(args) == 0
    assert len(store.query("SELECT key FROM generations")) == before + 2
    image = np.asarray(Image.open(sheet))
    row = 3 * (32 + 4)
    assert image.shape[0] == 4 * row  # gt, b, gt, b
    assert not np.array_equal(image[:row, -row:], image[row : 2 * row, -row:])
    assert main(["data", "sheet", "--n", "2", "--ckpt", "b"]) == 1
    assert "--ckpt needs --split" in capsys.readouterr().err

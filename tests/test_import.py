import json

import numpy as np
from helpers import snapshot

from workbench import media
from workbench.cli import main
from workbench.datasets import load_samples


def _video(path, seed, t=24, fps=16):
    rng = np.random.default_rng(seed)
    frames = np.repeat(rng.integers(0, 255, (1, 6, 8, 3), dtype=np.uint8), 8, 1).repeat(8, 2)
    frames = frames.repeat(t, axis=0)
    frames[:, :, :8] = (np.arange(t) * 10)[:, None, None, None].astype(np.uint8)
    return media.write_mp4(path, frames, fps=fps)


def _folder(tmp_path, names_and_captions):
    folder = tmp_path / "clips"
    folder.mkdir()
    lines = ["file,caption"] + [f"{name},{caption}" for name, caption in names_and_captions]
    (tmp_path / "captions.csv").write_text("\n".join(lines) + "\n")
    return folder, tmp_path / "captions.csv"


def _import(folder, captions, *extra):
    return main(
        [
            "data",
            "import",
            "--videos",
            str(folder),
            "--captions",
            str(captions),
            "--dataset",
            "real",
            *extra,
        ]
    )


def test_one_corrupt_file_imports_nothing_unless_skip_bad(tmp_path, store, capsys):
    assert main(["world", "make", "--n", "3"]) == 0  # something already in the store
    folder, captions = _folder(tmp_path, [("good.mp4", "a dog runs"), ("broken.mp4", "a cat")])
    _video(folder / "good.mp4", seed=0)
    (folder / "broken.mp4").write_bytes(_video(tmp_path / "x.mp4", 1).read_bytes()[:200])
    before = snapshot(store)
    capsys.readouterr()

    assert _import(folder, captions) == 1
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "corrupt" in err and "nothing imported" in err
    assert snapshot(store) == before
    assert not list((store.home / "tmp").iterdir())

    assert _import(folder, captions, "--skip-bad") == 0
    (sample,) = load_samples(store, "real")
    assert sample["prompt"] == "a dog runs"
    assert sample["attributes"]["source_file"] == "good.mp4"
    frames, fps = media.read_video(store.path(sample["video_path"]))
    assert frames.shape == (8, 32, 32, 3) and fps == 8
    assert store.path(sample["first_frame"]).is_file()


def test_every_bad_kind_is_reported_with_its_reason(tmp_path, store, capsys):
    folder, captions = _folder(
        tmp_path,
        [
            ("ok.mp4", "fine"),
            ("short.mp4", "too short"),
            ("copy.mp4", "same as ok"),
            ("nocap.mp4", ""),
            ("ghost.mp4", "not on disk"),
        ],
    )
    _video(folder / "ok.mp4", seed=0)
    _video(folder / "short.mp4", seed=2, t=4)
    (folder / "copy.mp4").write_bytes((folder / "ok.mp4").read_bytes())
    _video(folder / "nocap.mp4", seed=3)
    _video(folder / "uncaptioned.mp4", seed=4)
    capsys.readouterr()
    assert (
        main(
            [
                "--json",
                "data",
                "import",
                "--videos",
                str(folder),
                "--captions",
                str(captions),
                "--dataset",
                "real",
                "--skip-bad",
            ]
        )
        == 0
    )
    reasons = {o["file"]: o["reason"] for o in json.loads(capsys.readouterr().out)}
    # Files are taken in name order: the first of two identical files wins.
    assert reasons["copy.mp4"] == "" and "duplicate" in reasons["ok.mp4"]
    assert "too short" in reasons["short.mp4"]
    assert reasons["nocap.mp4"] == reasons["uncaptioned.mp4"] == "missing caption"
    assert "not found" in reasons["ghost.mp4"]
    # Importing the same file again is a duplicate of what is stored now.
    before = snapshot(store)
    assert _import(folder, captions) == 1
    assert snapshot(store) == before


def test_bad_captions_file_and_format_mismatch_fail_cleanly(tmp_path, store, capsys):
    folder, captions = _folder(tmp_path, [("a.mp4", "x")])
    _video(folder / "a.mp4", seed=0)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,words\na.mp4,x\n")
    assert _import(folder, bad) == 1
    assert "needs a file column" in capsys.readouterr().err
    assert _import(folder, captions, "--size", "31x32") == 1
    assert "even" in capsys.readouterr().err
    assert store.query("SELECT count(*) AS n FROM samples")[0]["n"] == 0

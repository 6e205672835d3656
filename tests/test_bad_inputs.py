"""The bad-input corpus: every case through the command line gives one clear error line and a
non-zero exit, and leaves the store and the media folder exactly as they were (a snapshot of
every row and every media file before and after).

Inputs live outside the home (in `bad/`); the home holds a small world, a tiny base, a GT-Pair
set, generations and scores, so each command has something real it could damage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import snapshot
from safetensors.torch import load_file, save_file

from workbench import media
from workbench.cli import main
from workbench.store import Store


def _clip(path: Path, t: int = 24, size: tuple[int, int] = (48, 64), fps: float = 16) -> Path:
    rng = np.random.default_rng(t)
    frames = rng.integers(0, 255, (t, *size, 3), dtype=np.uint8)
    return media.write_mp4(path, frames, fps=fps)


def _import(
    bad: Path, files: dict[str, Callable[[Path], object]], captions: str | bytes
) -> list[str]:
    """A folder of clips made by `files` and a captions file with the given content."""
    folder = bad / "clips"
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in files.items():
        make(folder / name)
    raw = captions if isinstance(captions, bytes) else captions.encode()
    (bad / "captions.csv").write_bytes(raw)
    return [
        "data",
        "import",
        "--videos",
        str(folder),
        "--captions",
        str(bad / "captions.csv"),
        "--dataset",
        "real",
        "--fps",
        "16",
        "--frames",
        "16",
        "--size",
        "32x32",
    ]


def _nan_checkpoint(bad: Path, home: Path) -> Path:
    """A copy of the base whose transformer holds a NaN."""
    import shutil

    folder = bad / "nan-model"
    shutil.copytree(home / "checkpoints" / "base", folder)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    name = next(iter(tensors))
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] = torch.nan
    save_file(tensors, weights)
    return folder


def _case_args(name: str, bad: Path, home: Path) -> list[str]:
    good = "file,caption\nok.mp4,a red ball\n"
    cases = {
        # Videos to import.
        "truncated mp4": lambda: _import(
            bad,
            {"t.mp4": lambda p: p.write_bytes(_clip(bad / "x.mp4").read_bytes()[:300])},
            "file,caption\nt.mp4,a clip\n",
        ),
        "random bytes as mp4": lambda: _import(
            bad,
            {"r.mp4": lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096))},
            "file,caption\nr.mp4,a clip\n",
        ),
        "empty file": lambda: _import(
            bad, {"e.mp4": lambda p: p.write_bytes(b"")}, "file,caption\ne.mp4,a clip\n"
        ),
        "one frame": lambda: _import(
            bad, {"one.mp4": lambda p: _clip(p, t=1)}, "file,caption\none.mp4,a clip\n"
        ),
        "huge resolution": lambda: _import(
            bad, {"big.mp4": lambda p: _clip(p, 2, (4352, 4352))}, "file,caption\nbig.mp4,a clip\n"
        ),
        "odd fps": lambda: _import(
            bad, {"slow.mp4": lambda p: _clip(p, 24, fps=0.5)}, "file,caption\nslow.mp4,a clip\n"
        ),
        "non-UTF-8 captions": lambda: _import(
            bad, {"ok.mp4": _clip}, b"file,caption\nok.mp4,caf\xe9 \xff\n"
        ),
        "very long caption": lambda: _import(
            bad, {"ok.mp4": _clip}, f"file,caption\nok.mp4,{'word ' * 20000}\n"
        ),
        "empty caption": lambda: _import(bad, {"ok.mp4": _clip}, "file,caption\nok.mp4,\n"),
        "missing file": lambda: _import(bad, {}, "file,caption\nghost.mp4,a ghost\n"),
        "duplicate ids": lambda: _import(
            bad, {"ok.mp4": _clip}, "file,caption\nok.mp4,a ball\nok.mp4,a ball again\n"
        ),
        "captions without a file column": lambda: _import(
            bad, {"ok.mp4": _clip}, "name,words\nok.mp4,x\n"
        ),
        "captions file missing": lambda: [
            *_import(bad, {"ok.mp4": _clip}, good)[:5],
            str(bad / "nope.csv"),
            "--dataset",
            "real",
        ],
        # Names.
        "unknown judge": lambda: ["eval", "--ckpt", "base", "--judges", "oracle-of-delphi"],
        "unknown method": lambda: ["train", "--method", "ppo", "--name", "x"],
        "unknown checkpoint (eval)": lambda: ["eval", "--ckpt", "nope", "--n", "2"],
        "unknown checkpoint (generate)": lambda: ["generate", "--ckpt", "nope", "--n", "1"],
        "unknown checkpoint (report)": lambda: ["report", "--ckpt", "base", "--ckpt", "nope"],
        "unknown dataset": lambda: ["generate", "--ckpt", "base", "--dataset", "nope"],
        "unknown pair set": lambda: [
            "train",
            "--method",
            "dpo",
            "--pairs",
            "nope",
            "--init",
            "base",
            "--name",
            "x",
        ],
        "unknown generator": lambda: ["gtpair", "build", "--generators", "nope", "--name", "y"],
        "unknown study": lambda: ["experiment", "run", "nope"],
        "unknown preset": lambda: ["experiment", "run", "paper", "--preset", "huge"],
        "unknown motion": lambda: [
            "world",
            "make",
            "--n",
            "2",
            "--dataset",
            "w2",
            "--motions",
            "left,teleport",
        ],
        # Configs and numbers.
        "wrong type": lambda: ["train", "--name", "x", "--steps", "many"],
        "zero batch": lambda: ["train", "--name", "x", "--batch-size", "0"],
        "negative lr": lambda: ["train", "--name", "x", "--lr", "-1"],
        "unknown attention backend": lambda: [
            "train",
            "--name",
            "x",
            "--init",
            "base",
            "--attention",
            "warp",
        ],
        "GPU attention on a CPU": lambda: [
            "train",
            "--name",
            "x",
            "--init",
            "base",
            "--attention",
            "flash",
        ],
        "negative noise": lambda: [
            "pairs",
            "simulate",
            "--generator",
            "base",
            "--name",
            "s",
            "--noise",
            "-0.1",
        ],
        "zero rollouts": lambda: [
            "gtpair",
            "build",
            "--generators",
            "base",
            "--per-sample",
            "0",
            "--name",
            "z",
        ],
        "resume without a run": lambda: [
            "train",
            "--name",
            "never",
            "--init",
            "base",
            "--resume",
            "--steps",
            "2",
        ],
        # Checkpoints.
        "NaN weights": lambda: [
            "checkpoints",
            "add",
            "--name",
            "nan",
            "--path",
            str(_nan_checkpoint(bad, home)),
        ],
        "not a model folder": lambda: [
            "checkpoints",
            "add",
            "--name",
            "x",
            "--path",
            str(_write_text(bad / "notes.txt", "hi").parent),
        ],
        "taken name": lambda: ["checkpoints", "add", "--name", "base", "--embedded"],
        # Pair sets and results files.
        "existing pair set": lambda: [
            "gtpair",
            "build",
            "--generators",
            "base",
            "--name",
            "gt-shapes",
        ],
        "VBench results naming unknown videos": lambda: [
            "eval",
            "--ingest-vbench",
            str(
                _write(
                    bad / "vb.json",
                    {
                        "subject_consistency": [
                            0.9,
                            [{"video_path": "/elsewhere/unknown.mp4", "video_results": 0.9}],
                        ]
                    },
                )
            ),
        ],
        "VBench results not JSON": lambda: [
            "eval",
            "--ingest-vbench",
            str(_write_text(bad / "vb.txt", "{not json")),
        ],
    }
    return cases[name]()


def _write(path: Path, data) -> Path:
    return _write_text(path, json.dumps(data))


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# Each case and what its message must say (stderr: the error line and, for imports, each bad
# file's reason).
CASES = {
    "truncated mp4": "t.mp4: ",
    "random bytes as mp4": "r.mp4: ",
    "empty file": "e.mp4: ",
    "one frame": "too short",
    "huge resolution": "larger than 4096 px",
    "odd fps": "0.5 fps is outside",
    "non-UTF-8 captions": "utf-8",
    "very long caption": "at most 2000",
    "empty caption": "missing caption",
    "missing file": "not found",
    "duplicate ids": "listed twice",
    "captions without a file column": "needs a file column",
    "captions file missing": "nope.csv",
    "unknown judge": "unknown judge 'oracle-of-delphi'",
    "unknown method": "unknown method 'ppo'",
    "unknown checkpoint (eval)": "unknown checkpoint 'nope'",
    "unknown checkpoint (generate)": "unknown checkpoint 'nope'",
    "unknown checkpoint (report)": "unknown checkpoint 'nope'",
    "unknown dataset": "unknown dataset 'nope'",
    "unknown pair set": "unknown pair set 'nope'",
    "unknown attention backend": "unknown attention backend 'warp'",
    "GPU attention on a CPU": "'flash' runs on CUDA",
    "unknown generator": "unknown checkpoint 'nope'",
    "unknown study": "unknown study 'nope'",
    "unknown preset": "unknown preset 'huge'",
    "unknown motion": "['teleport']",
    "wrong type": "invalid int value: 'many'",
    "zero batch": "batch_size must be >= 1",
    "negative lr": "lr must be > 0",
    "negative noise": "--noise must be >= 0",
    "zero rollouts": "--per-sample >= 1",
    "resume without a run": "nothing to resume",
    "NaN weights": "non-finite weights",
    "not a model folder": "is not a model",
    "taken name": "already registered",
    "existing pair set": "exists",
    "VBench results naming unknown videos": "videos not in the store: unknown",
    "VBench results not JSON": "not a VBench results file",
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory, monkeypatch_module):
    """A home with a world, a base, GT-Pairs, generations and scores."""
    home = tmp_path_factory.mktemp("corpus") / "home"
    monkeypatch_module.setenv("WORKBENCH_HOME", str(home))
    assert main(["world", "make", "--n", "12"]) == 0
    assert (
        main(["train", "--name", "base", "--steps", "2", "--batch-size", "2", "--task", "i2v"]) == 0
    )
    assert main(["gtpair", "build", "--generators", "base", "--steps", "2"]) == 0
    assert (
        main(["eval", "--ckpt", "gt", "--ckpt", "base", "--n", "2", "--judges", "shapes-pf"]) == 0
    )
    return home


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as m:
        yield m


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_line_and_changes_nothing(case, filled, tmp_path, capsys):
    args = _case_args(case, tmp_path / "bad", filled)
    store = Store(filled)
    before = snapshot(store)
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses wrong types itself (exit 2)
        code = exc.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code not in (0, None), f"{case}: accepted"
    assert len(errors) == 1, f"{case}: {err[-800:]}"
    assert "Traceback" not in err, f"{case}: {err[-800:]}"
    assert CASES[case] in err, f"{case}: {err[-800:]}"
    assert snapshot(store) == before, f"{case}: the store or media changed"


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


def test_a_store_from_a_newer_schema_is_refused_untouched(home, capsys):
    assert main(["world", "make", "--n", "2"]) == 0
    store = Store(home)
    with store.write() as con:
        con.execute("INSERT INTO schema_version VALUES (99)")
    before = (home / "workbench.duckdb").read_bytes()
    capsys.readouterr()
    assert main(["data", "list"]) == 1
    err = capsys.readouterr().err
    assert "schema version 99" in err and "newer" in err, err
    assert (home / "workbench.duckdb").read_bytes() == before

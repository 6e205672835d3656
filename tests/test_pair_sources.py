"""Pair sources beyond GT-Pairs: denoised-from-real pairs keep the real video's layout;
judge-mined pairs (VideoDPO) take, per prompt, the judges'
best of N rollouts over their worst when they are `gap` apart, record how they were made,
and train like any pair set; a gap no sample reaches is refused and stores nothing."""

import json

import numpy as np
import pytest

from workbench import media
from workbench.cli import main
from workbench.report.queries import pairset_label
from workbench.store import Store


def test_judge_mined_pairs_are_the_best_over_the_worst(home, capsys):
    assert main(["world", "make", "--n", "8"]) == 0
    assert main(["train", "--name", "base", "--steps", "3", "--batch-size", "4"]) == 0
    mine = ["pairs", "mine", "--generator", "base", "--per-sample", "3", "--n", "4"]
    assert main([*mine, "--gap", "0", "--name", "m"]) == 0
    store = Store(home)
    pairs = store.query("SELECT * FROM pairs WHERE pairset = 'm'")
    assert 1 <= len(pairs) <= 4 and all(p["kind"] == "mined" for p in pairs)
    rollouts = store.query(
        "SELECT sample_id, list(DISTINCT video_id) AS videos FROM generations "
        "WHERE checkpoint = 'base' GROUP BY sample_id"
    )
    scores = {
        r["video_id"]: r["value"]
        for r in store.query(
            "SELECT video_id, avg(value) AS value FROM scores WHERE dimension = 'overall' "
            "AND judge IN ('shapes-vq', 'shapes-pf') GROUP BY video_id"
        )
    }
    videos = {r["sample_id"]: r["videos"] for r in rollouts}
    for p in pairs:
        prov = json.loads(p["provenance"])
        assert prov["source"] == "judge-mined" and prov["per_sample"] == 3
        assert prov["judges"] == ["shapes-vq", "shapes-pf"] and prov["gap"] == 0
        theirs = videos[p["sample_id"]]
        assert p["winner_video"] != p["loser_video"] and {
            p["winner_video"],
            p["loser_video"],
        } <= set(theirs)
        assert scores[p["winner_video"]] == max(scores[v] for v in theirs)
        assert scores[p["loser_video"]] == min(scores[v] for v in theirs)
        assert prov["utility"] == [scores[p["winner_video"]], scores[p["loser_video"]]]
    assert pairset_label(store, "m").startswith("judge-mined: best over worst of 3 base rollouts")

    assert main([*mine, "--gap", "5", "--name", "m2"]) == 1  # overall scores lie in [0, 1]
    assert "no sample's best and worst of 3 rollouts are 5.0 apart" in capsys.readouterr().err
    assert not store.pairset_exists("m2")
    train = ["train", "--method", "regdpo", "--pairs", "m", "--init", "base", "--name", "r"]
    assert main([*train, "--steps", "1", "--batch-size", "2"]) == 0


def test_denoised_pairs_keep_the_real_layout_the_more_the_lower_the_strength(home, capsys):
    """The real video wins over the base's denoising of a noised copy of it; the loser is a
    stored mp4 that differs from the real one, and less so from a lower strength."""
    assert main(["world", "make", "--n", "8"]) == 0
    assert main(["train", "--name", "base", "--steps", "3", "--batch-size", "4"]) == 0
    denoise = ["pairs", "denoise", "--generator", "base", "--n", "4"]
    for strength in ("0.2", "0.9"):
        assert main([*denoise, "--strength", strength, "--name", f"d{strength}"]) == 0
    store = Store(home)
    distance = {}
    for strength in ("0.2", "0.9"):
        pairs = store.query(
            "SELECT p.*, s.video_id AS real, s.attributes, s.dataset FROM pairs p "
            "JOIN samples s ON s.id = p.sample_id WHERE pairset = ?",
            [f"d{strength}"],
        )
        assert len(pairs) == 4 and all(p["kind"] == "denoised" for p in pairs)
        gaps = []
        for p in pairs:
            prov = json.loads(p["provenance"])
            assert prov["source"] == "denoised-from-real" and prov["strength"] == float(strength)
            assert p["winner_video"] == p["real"] != p["loser_video"]
            real, _ = media.read_video(store.video_paths([p["real"]])[p["real"]])
            loser, _ = media.read_video(store.video_paths([p["loser_video"]])[p["loser_video"]])
            assert real.shape == loser.shape
            gaps.append(np.abs(real.astype(int) - loser.astype(int)).mean())
        assert min(gaps) > 0
        distance[strength] = float(np.mean(gaps))
    assert distance["0.2"] < distance["0.9"], distance
    assert "denoised-from-real: real video beats base's denoising" in pairset_label(store, "d0.2")
    assert main([*denoise, "--strength", "0", "--name", "d0"]) == 1
    assert "--strength must be in (0, 1]" in capsys.readouterr().err
    assert not store.pairset_exists("d0")


def test_locally_corrupted_pairs_differ_from_the_real_video_only_in_their_region(home, capsys):
    """LocalDPO-style: the loser is the real video with the object (or the background) made
    anew by the base in a window of frames; outside that region and window it is the real
    video (up to the mp4's coding), inside it is not. The pair set says how it was made and
    what a pair cost; a region it does not know is refused and stores nothing."""
    from workbench.pairsets.denoised import region_masks
    from workbench.report.queries import pairset_cost

    assert main(["world", "make", "--n", "8"]) == 0
    assert main(["train", "--name", "base", "--steps", "3", "--batch-size", "4"]) == 0
    corrupt = ["pairs", "corrupt", "--generator", "base", "--n", "4", "--span", "0.5"]
    store = Store(home)
    for region in ("object", "background"):
        assert main([*corrupt, "--region", region, "--name", region]) == 0
        pairs = store.query(
            "SELECT p.*, s.video_id AS real FROM pairs p JOIN samples s ON s.id = p.sample_id "
            "WHERE pairset = ?",
            [region],
        )
        assert len(pairs) == 4 and all(p["kind"] == "corrupted" for p in pairs)
        for p in pairs:
            prov = json.loads(p["provenance"])
            assert prov["source"] == "locally-corrupted" and prov["region"] == region
            assert (prov["span"], prov["strength"], prov["generator"]) == (0.5, 1.0, "base")
            assert p["winner_video"] == p["real"] != p["loser_video"]
            paths = store.video_paths([p["real"], p["loser_video"]])
            real, _ = media.read_video(paths[p["real"]])
            loser, _ = media.read_video(paths[p["loser_video"]])
            (mask,) = region_masks(real[None], region, 0.5, [prov["seed"]])
            window = np.flatnonzero(mask.any(axis=(1, 2)))  # half the frames, in one window
            assert len(window) == 4 and window[-1] - window[0] == 3
            gap = np.abs(real.astype(int) - loser.astype(int)).max(axis=-1)
            outside = gap[~mask]  # the real video's pixels, through the mp4's lossy coding
            assert np.median(outside) <= 2 and gap[mask].mean() > 10 * outside.mean(), region
        assert pairset_label(store, region).startswith("locally corrupted: real video beats")
        assert pairset_cost(store, region) == "1.0 rollout"
    with pytest.raises(SystemExit) as refused:  # argparse's choices: exit 2, one line
        main([*corrupt, "--region", "sky", "--name", "x"])
    assert refused.value.code == 2
    assert "invalid choice: 'sky'" in capsys.readouterr().err
    assert not store.pairset_exists("x")

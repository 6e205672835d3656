"""Pair sources beyond GT-Pairs: denoised-from-real pairs keep the real video's layout;
judge-mined pairs (VideoDPO) take, per prompt, the judges'
best of N rollouts over their worst when they are `gap` apart, record how they were made,
and train like any pair set; a gap no sample reaches is refused and stores nothing."""

import json

import numpy as np

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

"""Pair sources beyond GT-Pairs: judge-mined pairs (VideoDPO) take, per prompt, the judges'
best of N rollouts over their worst when they are `gap` apart, record how they were made,
and train like any pair set; a gap no sample reaches is refused and stores nothing."""

import json

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

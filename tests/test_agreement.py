"""Agreement of human votes with GT-Pair, with the judges and between annotators, computed
from stored battles and votes."""

import pytest

from workbench.human_ratings import annotator_agreement, gt_pair_agreement, judge_agreement
from workbench.store import Store


def _battle(store, bid, a, b, video_a, video_b, annotator):
    store.insert(
        "battles",
        [
            {
                "id": bid,
                "kind": "checkpoints",
                "dataset": "d",
                "sample_id": "d:0",
                "video_a": video_a,
                "video_b": video_b,
                "source_a": a,
                "source_b": b,
                "annotator": annotator,
            }
        ],
    )


def _vote(store, bid, annotator, video_a, video_b, aspect, outcome):
    store.insert(
        "votes",
        [
            {
                "id": f"{bid}{aspect}",
                "battle_id": bid,
                "annotator": annotator,
                "video_a": video_a,
                "video_b": video_b,
                "aspect": aspect,
                "outcome": outcome,
            }
        ],
    )


def test_agreement_tables_by_hand(tmp_path):
    store = Store(tmp_path)
    store.insert(
        "pairs",
        [
            {
                "id": "p",
                "pairset": "gt-d",
                "sample_id": "d:0",
                "winner_video": "r",
                "loser_video": "x",
                "kind": "gt",
                "provenance": {"generator": "base"},
            }
        ],
    )
    # real video r against base's x: ann1 prefers real (VQ), ann2 sees them the same (VQ);
    # ann2 was shown base on the left.
    _battle(store, "b1", "gt", "base", "r", "x", "ann1")
    _vote(store, "b1", "ann1", "r", "x", "vq", "good")
    _battle(store, "b2", "base", "gt", "x", "r", "ann2")
    _vote(store, "b2", "ann2", "x", "r", "vq", "same")
    rows = gt_pair_agreement(store)
    assert rows == [
        {
            "aspect": "VQ",
            "votes": 2,
            "prefer real": 0.5,
            "same / both bad": 0.5,
            "prefer rollout": 0.0,
        }
    ]

    # The VQ judge prefers r clearly: agrees with ann1, not with ann2's tie.
    store.insert(
        "scores",
        [
            {
                "video_id": v,
                "judge": "shapes-vq",
                "judge_version": "2",
                "dimension": "overall",
                "value": x,
            }
            for v, x in (("r", 0.99), ("x", 0.80))
        ],
    )
    (judge,) = judge_agreement(store)
    assert judge["judge"] == "shapes-vq / overall" and judge["votes"] == 2
    assert judge["accuracy"] == 0.5 and judge["accuracy without ties"] == 1.0
    # labels human [good, same] vs judge [good, bad]: observed 0.5, expected 0.5 * 0.5 = 0.25.
    assert judge["kappa"] == pytest.approx((0.5 - 0.25) / 0.75)

    (people,) = annotator_agreement(store)
    assert people["shared items"] == 1 and people["annotator pairs"] == 1
    assert people["agreement"] == 0.0, "good (ann1) against same (ann2), sides normalised"

    # On real videos VideoReward stands for VQ too: its own row, here preferring x.
    store.insert(
        "scores",
        [
            {
                "video_id": v,
                "judge": "videoreward",
                "judge_version": "1",
                "dimension": "vq",
                "value": x,
            }
            for v, x in (("r", -0.4), ("x", 0.3))
        ],
    )
    rows = {r["judge"]: r for r in judge_agreement(store)}
    assert rows["shapes-vq / overall"]["accuracy"] == 0.5
    assert rows["videoreward / vq"]["votes"] == 2 and rows["videoreward / vq"]["accuracy"] == 0.0


def test_the_arena_export_read_back_gives_the_leaderboards_ratings(tmp_path, capsys):
    """`votes export --format arena` writes FastChat's battle records; rated as Chatbot-Arena
    notebooks rate them (winner -> A's share, a tie of either kind half), they give the
    Leaderboard's Bradley-Terry ratings."""
    import json

    from workbench.cli import main
    from workbench.human_ratings import rating_rows
    from workbench.ratings import bradley_terry_ci

    store = Store(tmp_path)
    outcomes = ["good", "good", "bad", "same", "both_bad", "good", "bad", "good"]
    models = [("base", "regdpo"), ("regdpo", "dpo"), ("dpo", "base"), ("base", "sft")]
    for i, outcome in enumerate(outcomes):
        a, b = models[i % len(models)]
        _battle(store, f"b{i}", a, b, f"{a}{i}", f"{b}{i}", f"ann{i % 3}")
        for aspect in ("vq", "pf"):
            _vote(
                store,
                f"b{i}",
                f"ann{i % 3}",
                f"{a}{i}",
                f"{b}{i}",
                aspect,
                outcome if aspect == "vq" else "same",
            )
    out = tmp_path / "arena.json"
    assert (
        main(["--home", str(tmp_path), "votes", "export", "--format", "arena", "--out", str(out)])
        == 0
    )
    records = json.loads(out.read_text())
    assert len(records) == 2 * len(outcomes)
    assert {r["winner"] for r in records} == {"model_a", "model_b", "tie", "tie (bothbad)"}
    assert set(records[0]) >= {"question_id", "model_a", "model_b", "winner", "judge", "tstamp"}
    read_back = {"model_a": "good", "model_b": "bad", "tie": "same", "tie (bothbad)": "both_bad"}
    for aspect in ("vq", "pf"):
        battles = [
            (r["model_a"], r["model_b"], read_back[r["winner"]])
            for r in records
            if r["category"] == aspect
        ]
        assert bradley_terry_ci(battles, ties=True) == rating_rows(store, aspect, ties=True)

"""The Leaderboard's one-glance table: a pure function of per-sample scores and ratings."""

import math

from workbench.human_ratings import glance_rows
from workbench.report.tables import gsb_rows, reference_last

VQ, PF = ("shapes-vq", "overall"), ("shapes-pf", "overall")


def scores(vq: list[float], pf: list[float]) -> dict:
    return {f"s{i}": {VQ: v, PF: p} for i, (v, p) in enumerate(zip(vq, pf, strict=True))}


def test_win_rates_against_the_reference_and_ranks_side_by_side():
    table = {
        "base": scores([0.5] * 10, [0.5] * 10),
        "regdpo": scores([0.9] * 8 + [0.1] * 2, [0.5] * 10),
        "dpo": scores([0.1] * 10, [0.6] * 10),
    }
    ratings = {
        "vq": [
            {"model": "dpo", "rank": 1},
            {"model": "regdpo", "rank": 1},
            {"model": "base", "rank": 3},
        ]
    }
    table = reference_last(table, "base")
    rows = {r["source"]: r for r in glance_rows(table, gsb_rows(table, 0.02), ratings, "base")}
    assert math.isclose(rows["regdpo"]["VQ"], 0.74)
    assert rows["regdpo"]["VQ win rate vs base"].startswith("0.80 (")
    # The paired verdict in words beside it: 8 of 10 prompts better by 0.4 and 2 worse by
    # 0.4 is not enough to exclude no difference (the win rate's interval reaches 0.50 too).
    assert rows["regdpo"]["VQ win rate vs base"].endswith("on 10 prompts: no detectable difference")
    assert rows["dpo"]["VQ win rate vs base"].endswith("on 10 prompts: base better")
    assert rows["dpo"]["VQ win rate vs base"].startswith("0.00 (")
    assert rows["dpo"]["PF win rate vs base"].startswith("1.00 (")
    assert rows["base"]["VQ win rate vs base"] == "-", "the reference against itself: nothing"
    assert [rows[s]["VQ rank: judges"] for s in ("regdpo", "base", "dpo")] == [1, 2, 3]
    assert rows["dpo"]["VQ rank: humans"] == 1 and rows["dpo"]["PF rank: humans"] == "-"

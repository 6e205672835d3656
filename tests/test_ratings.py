import numpy as np
import pytest

from workbench.ratings import gsb_bootstrap_ci, gsb_counts, gsb_score, outcomes_from_scores


def test_gsb_score_reproduces_the_papers_tables():
    assert round(gsb_score(308, 76, 111), 2) == 2.05  # Reg-DPO vs Base, VQ
    assert round(gsb_score(278, 75, 141), 2) == 1.63  # GT-Pair vs Base, VQ
    assert round(gsb_score(193, 189, 113), 2) == 1.26  # Reg-DPO vs DPO, PF
    assert gsb_score(3, 0, 0) == float("inf")


def test_outcomes_from_judge_scores_respect_margin_and_direction():
    a, b = [0.9, 0.5, 0.50, 0.1], [0.5, 0.9, 0.52, 0.1]
    assert outcomes_from_scores(a, b, margin=0.05) == ["good", "bad", "same", "same"]
    assert outcomes_from_scores(a, b, margin=0.05, higher_is_better=False)[:2] == ["bad", "good"]
    assert gsb_counts(["good", "good", "same", "bad"]) == (2, 1, 1)


def test_bootstrap_interval_contains_the_score_and_narrows_with_more_data():
    small = ["good"] * 6 + ["same"] * 2 + ["bad"] * 2
    large = small * 20
    lo, hi = gsb_bootstrap_ci(small)
    lo2, hi2 = gsb_bootstrap_ci(large)
    score = gsb_score(*gsb_counts(small))
    assert lo <= score <= hi and lo2 <= score <= hi2
    assert hi2 - lo2 < hi - lo
    assert gsb_bootstrap_ci(large) == gsb_bootstrap_ci(large), "seeded"
    with pytest.raises(ValueError, match="great"):
        gsb_counts(["good", "great"])
    with pytest.raises(ValueError):
        outcomes_from_scores([1.0], [1.0, 2.0], 0.1)


def test_vbench_quality_normalises_with_vbenchs_constants_and_needs_every_dimension():
    from workbench.report.tables import vbench_quality_score

    perfect = {
        "subject_consistency": 1.0,
        "background_consistency": 1.0,
        "temporal_flickering": 1.0,
        "motion_smoothness": 0.9975,
        "dynamic_degree": 1.0,
        "aesthetic_quality": 1.0,
        "imaging_quality": 1.0,
    }
    assert vbench_quality_score(perfect) == pytest.approx(1.0)
    half_dynamic = {**perfect, "dynamic_degree": 0.0}  # weight 0.5 of 6.5
    assert vbench_quality_score(half_dynamic) == pytest.approx(6.0 / 6.5)
    assert vbench_quality_score({k: v for k, v in perfect.items() if k != "dynamic_degree"}) is None


def test_win_rate_is_the_bounded_companion_of_an_infinite_score():
    from workbench.ratings import format_gsb_score, win_rate, win_rate_bootstrap_ci

    assert format_gsb_score(gsb_score(48, 0, 0)) == "∞ (no S or B)"
    assert format_gsb_score(gsb_score(308, 76, 111)) == "2.05"
    assert win_rate(48, 0, 0) == 1.0 and win_rate(2, 2, 0) == 0.75 and win_rate(0, 0, 4) == 0.0
    outcomes = ["good"] * 30 + ["same"] * 10 + ["bad"] * 10
    lo, hi = win_rate_bootstrap_ci(outcomes)
    assert 0.0 <= lo < win_rate(30, 10, 10) < hi <= 1.0
    assert win_rate_bootstrap_ci(["good"] * 5) == (1.0, 1.0)


def test_paired_difference_says_when_there_is_no_detectable_difference():
    from workbench.ratings import paired_difference

    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, 48)
    same = paired_difference(base, base, 0.02)
    assert same["verdict"] == "no detectable difference" and same["sign_p"] == 1.0
    noisy = paired_difference(base + rng.normal(0, 0.05, 48), base, 0.02)  # 5 / 35 / 8 territory
    assert noisy["diff_lo"] < 0 < noisy["diff_hi"] and noisy["verdict"].startswith("no")
    better = paired_difference(base + 0.1, base, 0.02)
    assert better["verdict"] == "A better" and better["sign_p"] < 1e-10 and better["n"] == 48
    worse = paired_difference(base[:6] - 0.1, base[:6], 0.02)
    assert worse["verdict"] == "B better" and worse["sign_p"] > 0.03, "6 prompts: p = 2 / 64"

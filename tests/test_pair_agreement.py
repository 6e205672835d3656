"""Pair sets from votes: agreement is counted per annotator and per chosen aspect (a pure
function over vote rows), and only rollout battles make training pairs."""

import pytest

from workbench.battles import agreement


def vote(annotator, aspect, outcome, a="v1", b="v2", sample="s"):
    return {
        "annotator": annotator,
        "aspect": aspect,
        "outcome": outcome,
        "video_a": a,
        "video_b": b,
        "sample_id": sample,
    }


def both(annotator, vq, pf, **kw):
    return [vote(annotator, "vq", vq, **kw), vote(annotator, "pf", pf, **kw)]


def test_one_person_is_one_annotator_whatever_the_aspects():
    votes = both("ann", "good", "good")
    assert agreement(votes, "both", 2) == {}, "VQ and PF answers of one person are not two votes"
    assert agreement(votes, "both", 1) == {("s", "v1", "v2"): (1, 0)}
    votes += both("bob", "bad", "bad", a="v2", b="v1")  # bob saw the sides swapped: v1 again
    assert agreement(votes, "both", 2) == {("s", "v1", "v2"): (2, 0)}


@pytest.mark.parametrize(
    "aspect, expected",
    [
        ("vq", {("s", "v1", "v2"): (2, 1)}),
        ("pf", {("s", "v2", "v1"): (2, 0)}),
        ("both", {}),  # ann and bob split their answers; cy prefers v2 on both but is alone
    ],
)
def test_the_chosen_aspect_decides(aspect, expected):
    votes = [*both("ann", "good", "bad"), *both("bob", "good", "same"), *both("cy", "bad", "bad")]
    assert agreement(votes, aspect, 2) == expected


def test_ties_and_a_changed_mind():
    votes = [*both("ann", "good", "good"), *both("bob", "bad", "bad")]
    assert agreement(votes, "both", 1) == {}, "one annotator each way: no winner"
    votes += both("bob", "good", "good")  # bob's latest answer replaces his first
    assert agreement(votes, "both", 2) == {("s", "v1", "v2"): (2, 0)}
    assert agreement(both("ann", "same", "both_bad"), "both", 1) == {}

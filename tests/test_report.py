"""`workbench report` reads what the store holds honestly: the newest version of each judge,
every VBench source (official results first, the source named in the column), partial
scoring, and a GSB score that is infinite said in words beside a bounded win rate."""

import json

import pytest

from workbench.cli import main
from workbench.report.tables import VBENCH_DIMENSIONS
from workbench.report.writers import write_report
from workbench.store import Store


@pytest.fixture
def two_sources(home):
    """A world's test split ('gt') and a second source 'other' with videos of its own."""
    assert main(["world", "make", "--n", "24"]) == 0
    store = Store(home)
    samples = store.query("SELECT id, video_id FROM samples WHERE split = 'test' ORDER BY idx")
    fakes = [f"other{i:04d}" for i in range(len(samples))]
    store.insert(
        "videos",
        [
            {
                "id": v,
                "sha256": v,
                "path": f"media/{v}.mp4",
                "frames": 8,
                "height": 32,
                "width": 32,
                "fps": 8.0,
                "source": "external",
            }
            for v in fakes
        ],
    )
    store.insert(
        "generations",
        [
            {
                "key": v,
                "checkpoint": "other",
                "sample_id": s["id"],
                "seed": 0,
                "settings": {},
                "video_id": v,
            }
            for s, v in zip(samples, fakes, strict=True)
        ],
    )
    return store, [s["video_id"] for s in samples], fakes


def _scores(store, judge, version, dimension, values: dict[str, float]):
    rows = [
        {
            "video_id": v,
            "judge": judge,
            "judge_version": version,
            "dimension": dimension,
            "value": x,
        }
        for v, x in values.items()
    ]
    store.insert("scores", rows)


def _report(store, tmp_path, ckpts=("gt", "other")):
    out = tmp_path / "report"
    write_report(store, "shapes", "test", list(ckpts), out)
    return (out / "report.md").read_text(), json.loads((out / "report.json").read_text())


def test_only_the_newest_judge_version_counts(two_sources, tmp_path):
    store, gt, other = two_sources
    _scores(store, "shapes-vq", "1", "overall", dict.fromkeys(gt + other, 0.0))
    _scores(store, "shapes-vq", "2", "overall", dict.fromkeys(gt, 0.9) | dict.fromkeys(other, 0.5))
    _, data = _report(store, tmp_path)
    means = {r["judge / dimension"]: r for r in data["judges"]}["shapes-vq / overall"]
    assert means["gt"] == pytest.approx(0.9) and means["other"] == pytest.approx(0.5)


def test_partial_scoring_compares_shared_samples_and_an_infinite_score_is_said(
    two_sources, tmp_path
):
    store, gt, other = two_sources
    _scores(store, "shapes-pf", "3", "overall", dict.fromkeys(gt, 1.0))
    _scores(store, "shapes-pf", "3", "overall", dict.fromkeys(other[:3], 0.25))  # 3 scored
    md, data = _report(store, tmp_path)
    (row,) = [r for r in data["gsb"] if r["aspect"] == "PF"]
    assert (row["good"], row["same"], row["bad"]) == (3, 0, 0)
    assert row["score"] is None and row["score_text"] == "∞ (no S or B)"
    assert row["win_rate"] == 1.0 and row["win_rate_ci"] == [1.0, 1.0]
    assert "| gt vs other | PF | 3/0/0 | ∞ (no S or B) (∞-∞) | 1.00 (1.00-1.00) |" in md
    assert "inf" not in md


def test_vbench_table_reads_every_source_and_names_it(two_sources, tmp_path):
    store, gt, other = two_sources
    _scores(
        store,
        "vbench-dino",
        "2",
        "subject_consistency",
        dict.fromkeys(gt, 0.95) | dict.fromkeys(other, 0.90),
    )
    _scores(
        store,
        "vbench",
        "2",
        "temporal_flickering_unfiltered",
        dict.fromkeys(gt, 0.99) | dict.fromkeys(other, 0.97),
    )
    _scores(store, "vbench-official", "official", "subject_consistency", dict.fromkeys(gt, 0.5))
    md, data = _report(store, tmp_path)
    row = {r["checkpoint"]: r for r in data["vbench"]}["gt"]
    # Official results exist for gt only: the column stays with the source that covers both.
    assert row["subject_consistency [vbench-dino]"] == pytest.approx(0.95)
    assert row["temporal_flickering [vbench, no static filter]"] == pytest.approx(0.99)
    assert row["Total (rank sum)"] == 4.0  # best of two on both dimensions
    assert row["VBench Quality"].startswith("n/a (not VBench's procedure: temporal_flickering")
    assert "missing: background_consistency, motion_smoothness" in md

    _scores(store, "vbench-official", "official", "subject_consistency", dict.fromkeys(other, 0.7))
    _, data = _report(store, tmp_path)
    row = {r["checkpoint"]: r for r in data["vbench"]}["other"]
    assert row["subject_consistency [vbench-official]"] == pytest.approx(0.7), "official first"
    assert row["Total (rank sum)"] == 3.0


def test_vbench_quality_score_once_all_seven_dimensions_exist(two_sources, tmp_path):
    store, gt, other = two_sources
    for dim in VBENCH_DIMENSIONS:
        _scores(store, "vbench-official", "official", dim, dict.fromkeys(gt + other, 1.0))
    _, data = _report(store, tmp_path)
    assert data["vbench_missing"] == []
    # Six dimensions normalise to 1 (dynamic degree at weight 0.5); motion smoothness 1.0
    # normalises above 1 with VBench's max 0.9975.
    smooth = (1.0 - 0.706) / (0.9975 - 0.706)
    assert data["vbench"][0]["VBench Quality"] == pytest.approx((5.5 + smooth) / 6.5)


def _fake_source(store, name, samples, pf, settings=None):
    """A source with its own videos (sampled with `settings`), each scored `pf` on shapes-pf
    overall."""
    tag = "" if settings is None else json.dumps(settings)
    videos = [f"{name}{tag}{i:04d}" for i in range(len(samples))]
    store.insert(
        "videos",
        [
            {
                "id": v,
                "sha256": v,
                "path": f"media/{v}.mp4",
                "frames": 8,
                "height": 32,
                "width": 32,
                "fps": 8.0,
                "source": "external",
            }
            for v in videos
        ],
    )
    store.insert(
        "generations",
        [
            {
                "key": v,
                "checkpoint": name,
                "sample_id": s,
                "seed": 0,
                "settings": settings or {},
                "video_id": v,
            }
            for s, v in zip(samples, videos, strict=True)
        ],
    )
    _scores(store, "shapes-pf", "3", "overall", dict.fromkeys(videos, pf))


def test_fine_tunes_with_several_seeds_are_summarised_across_seeds(home, tmp_path):
    assert main(["world", "make", "--n", "24"]) == 0
    store = Store(home)
    samples = [r["id"] for r in store.query("SELECT id FROM samples WHERE split = 'test'")]
    _fake_source(store, "base", samples, 0.5)
    # The study names seed 0 plainly and the seeds it adds later <method>-s<seed>.
    names = ["regdpo", "regdpo-s1", "regdpo-s2"]
    for name, pf in zip(names, (0.6, 0.7, 0.8), strict=True):
        _fake_source(store, name, samples, pf)
    # Another source's fine-tunes meet Reg-DPO on GT-Pairs seed for seed, in whatever order
    # they were asked for: 0.9 beats 0.6, 0.5 loses to 0.7, 0.7 loses to 0.8.
    others = ["dpo-mined-s2", "dpo-mined", "dpo-mined-s1"]
    for name, pf in zip(others, (0.7, 0.9, 0.5), strict=True):
        _fake_source(store, name, samples, pf)
    out = tmp_path / "report"
    write_report(store, "shapes", "test", ["base", others[0], *names, *others[1:]], out)
    rows = {r["method"]: r for r in json.loads((out / "report.json").read_text())["seeds"]}
    row, other = rows["regdpo"], rows["dpo-mined"]
    assert "PF win rate vs regdpo" not in row
    assert other["PF win rate vs regdpo"] == "0.333 ± 1.434"  # 1, 0, 0 over the seeds
    # mean 0.7, sd 0.1, t(0.975, 2) = 4.303: half-width 4.303 * 0.1 / sqrt(3) = 0.248
    assert row["method"] == "regdpo" and row["seeds"] == 3 and row["PF"] == "0.700 ± 0.248"
    assert row["PF win rate vs base"] == "1.000 ± 0.000"  # every seed beats base everywhere
    # What it rests on, and whether the interval excludes no difference, in words.
    n = len(samples)
    assert row["PF vs base"] == f"+0.200 (+0.200 to +0.200) on {n} prompts x 3 seeds: regdpo better"
    assert "Across seeds" in (out / "report.md").read_text()


def test_a_report_at_one_guidance_reads_only_videos_sampled_with_it(home, tmp_path):
    """A study that samples each checkpoint at guidance 4 and 1 reports each apart (by
    recency alone, the scale judged last would stand for both)."""
    assert main(["world", "make", "--n", "24"]) == 0
    store = Store(home)
    samples = [r["id"] for r in store.query("SELECT id FROM samples WHERE split = 'test'")]
    for name in ("base", "regdpo"):
        _fake_source(store, name, samples, 0.5, {"guidance": 4.0})
    _fake_source(store, "base", samples, 0.7, {"guidance": 1.0})
    _fake_source(store, "regdpo", samples, 0.6, {"guidance": 1.0})
    for guidance, pf in ((4.0, {"base": 0.5, "regdpo": 0.5}), (1.0, {"base": 0.7, "regdpo": 0.6})):
        assert (
            main(["report", "--ckpt", "base", "--ckpt", "regdpo", "--guidance", f"{guidance:g}"])
            == 0
        )
        data = json.loads((home / f"report-g{guidance:g}" / "report.json").read_text())
        (row,) = data["judges"]
        means = {c: row[c] for c in ("base", "regdpo")}
        assert data["guidance"] == guidance and means == pytest.approx(pf), means
        assert data["provenance"]["command"].endswith(f"--guidance {guidance:g}")


def test_a_report_says_which_code_machine_and_seeds_made_it(home, tmp_path, capsys):
    """Every number in a report can be traced: the command, the code version, the date and
    machine, and the seed and code of the run that trained each checkpoint."""
    from workbench.provenance import code_version, machine

    assert main(["world", "make", "--n", "12"]) == 0
    assert (
        main(["train", "--name", "base", "--steps", "2", "--batch-size", "2", "--seed", "7"]) == 0
    )
    assert (
        main(["eval", "--ckpt", "gt", "--ckpt", "base", "--n", "2", "--judges", "technical"]) == 0
    )
    assert main(["report", "--ckpt", "gt", "--ckpt", "base", "--out", str(tmp_path)]) == 0
    made = json.loads((tmp_path / "report.json").read_text())["provenance"]
    assert made["command"].startswith("workbench report --ckpt gt --ckpt base --dataset shapes")
    assert made["code_version"] == code_version() and made["machine"] == machine()
    assert made["checkpoints"]["base"] == {"seed": 7, "code_version": code_version()}
    head = (tmp_path / "report.md").read_text().splitlines()[2]
    assert head.startswith("Made by `workbench report") and "base: seed 7" in head
    # The run records the attention backend it used (auto on a CPU: torch's SDPA).
    (run,) = Store(home).query(
        "SELECT config->>'attention_backend' AS used FROM runs WHERE kind = 'train'"
    )
    assert run["used"] == "native"


def test_compare_says_what_a_source_rests_on(home):
    """Compare's summary under the videos: each source's mean over the split's prompts with
    its interval, and for a fine-tune of several seeds how many and their spread."""
    from workbench.app.compare import summary_rows

    assert main(["world", "make", "--n", "24"]) == 0
    store = Store(home)
    samples = [r["id"] for r in store.query("SELECT id FROM samples WHERE split = 'test'")]
    _fake_source(store, "base", samples, 0.5)
    for name, pf in zip(["regdpo", "regdpo-s1", "regdpo-s2"], (0.6, 0.7, 0.8), strict=True):
        _fake_source(store, name, samples, pf)
    base, seed1 = summary_rows(store, "shapes", "test", ["base", "regdpo-s1"])
    assert base == {"source": "base", "prompts": len(samples), "VQ": "-", "PF": "0.500 ± 0.000"}
    assert seed1["PF"] == "0.700 ± 0.000" and seed1["seeds"] == "3 seeds of regdpo"
    assert seed1["PF over seeds"] == "0.700 ± 0.248"

import json
import time

from helpers import snapshot

from workbench.cli import main
from workbench.store import Store


def _eval(*extra):
    return main(["--json", "eval", "--ckpt", "gt", "--ckpt", "base", "--n", "3", *extra])


def test_eval_scores_once_and_the_rerun_reuses_everything(home, capsys):
    assert main(["world", "make", "--n", "12"]) == 0
    assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
    capsys.readouterr()
    started = time.perf_counter()
    assert _eval() == 0
    first_time = time.perf_counter() - started
    rows = json.loads(capsys.readouterr().out)
    means = {(r["checkpoint"], r["judge"], r["dimension"]): r["mean"] for r in rows}
    assert means[("gt", "shapes-pf", "overall")] == 1.0
    assert means[("gt", "shapes-vq", "overall")] > means[("base", "shapes-vq", "overall")]
    store = Store(home)
    count = store.query("SELECT count(*) AS n FROM scores")[0]["n"]
    assert count == 2 * 3 * (9 + 11 + 7 + 1)  # two sources x 3 videos x dimensions

    before = snapshot(store)
    started = time.perf_counter()
    assert _eval("--no-generate") == 0
    assert json.loads(capsys.readouterr().out) == rows
    assert snapshot(store) == before, "nothing new is generated or scored"
    assert time.perf_counter() - started < first_time


def test_bad_eval_inputs_fail_with_a_clear_line(home, capsys):
    assert main(["world", "make", "--n", "12"]) == 0
    assert main(["train", "--name", "base", "--steps", "1", "--batch-size", "2"]) == 0
    capsys.readouterr()
    assert main(["eval", "--ckpt", "base", "--judges", "shapes-qv"]) == 1
    assert "unknown judge 'shapes-qv'; did you mean shapes-vq" in capsys.readouterr().err
    assert main(["eval", "--ckpt", "base", "--no-generate", "--n", "2"]) == 1
    assert "generation is disabled" in capsys.readouterr().err

    assert main(["generate", "--ckpt", "base", "--n", "2", "--steps", "2"]) == 0
    store = Store(home)
    video = store.query(
        "SELECT v.id, v.path FROM generations g JOIN videos v ON v.id = g.video_id"
    )[0]
    store.path(video["path"]).write_bytes(b"not a video at all" * 20)
    capsys.readouterr()
    assert (
        main(["eval", "--ckpt", "base", "--n", "2", "--steps", "2", "--judges", "technical"]) != 0
    )


def test_report_has_gsb_vbench_rank_sum_and_judge_tables(home, tmp_path, capsys):
    assert main(["world", "make", "--n", "12"]) == 0
    assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
    assert _eval() == 0
    assert (
        main(
            [
                "checkpoints",
                "add",
                "--name",
                "unscored",
                "--path",
                str(home / "checkpoints" / "base"),
            ]
        )
        == 0
    )
    out = tmp_path / "report"
    assert (
        main(["report", "--ckpt", "gt", "--ckpt", "base", "--ckpt", "unscored", "--out", str(out)])
        == 0
    )
    md = (out / "report.md").read_text()
    assert "| gt vs base | PF | 3/0/0 | ∞ (no S or B) (∞-∞) |" in md  # truth follows every prompt
    assert "| gt | 1 | 2 |" not in md and "Total (rank sum)" in md
    assert "missing: subject_consistency" in md, "missing VBench dimensions are flagged"
    assert "No scores yet (run `workbench eval`): unscored" in md
    assert "## In-distribution prompts and held-out attribute combinations" in md
    assert (out / "report.html").read_text().count("<table") == 4  # GSB, split, VBench, judges
    assert (out / "curve_loss.png").is_file()


def test_official_vbench_results_are_ingested_by_video_file_name(home, tmp_path, capsys):
    assert main(["world", "make", "--n", "4"]) == 0
    store = Store(home)
    videos = store.query("SELECT id, path FROM videos ORDER BY id")
    results = {
        "subject_consistency": [
            0.9,
            [{"video_path": f"/elsewhere/{v['id']}.mp4", "video_results": 0.9} for v in videos],
        ],
        "imaging_quality": [
            0.55,
            [{"video_path": f"{v['id']}.mp4", "video_results": 55.0} for v in videos],
        ],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    assert main(["eval", "--ingest-vbench", str(path)]) == 0
    rows = store.query("SELECT * FROM scores WHERE judge = 'vbench-official'")
    assert len(rows) == 2 * len(videos)
    assert {r["dimension"] for r in rows} == {"subject_consistency", "imaging_quality"}
    # VBench's per-video MUSIQ results are 0..100; the dimension (and our store) is 0..1.
    assert {r["value"] for r in rows if r["dimension"] == "imaging_quality"} == {0.55}
    results["subject_consistency"][1].append({"video_path": "x/unknown.mp4", "video_results": 1})
    path.write_text(json.dumps(results))
    before = snapshot(store)
    assert main(["eval", "--ingest-vbench", str(path)]) == 1
    assert "not in the store: unknown" in capsys.readouterr().err
    assert snapshot(store) == before

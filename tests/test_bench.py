"""`workbench bench`: the JSON a user reads (shape and consistency, never speed)."""

import json

from workbench.cli import main


def test_bench_memory_reports_both_settings_and_the_largest_fitting_frames(capsys, tmp_path):
    out = tmp_path / "memory.json"
    args = [
        "bench",
        "memory",
        "--arch",
        "tiny",
        "--size",
        "32x32",
        "--frames",
        "5,9",
        "--attention",
        "native",
        "--flops",
        "--repeats",
        "1",
        "--budget-mb",
        "100000",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == result
    assert result["provenance"]["command"].startswith("workbench bench memory --arch tiny")
    assert result["provenance"]["code_version"] and result["provenance"]["machine"]
    assert [(r["setting"], r["frames"]) for r in result["rows"]] == [
        ("naive", 5),
        ("naive", 9),
        ("default", 5),
        ("default", 9),
    ]
    assert all(r["step_s"] > 0 and r["peak_mb"] > 0 and r["fits"] for r in result["rows"])
    assert result["largest_frames"] == {"naive": 9, "default": 9}
    assert result["settings"]["naive"]["precision"] == "fp32"
    assert {s["attention"] for s in result["settings"].values()} == {"native"}
    # Model FLOPs per step grow with the frames (the MFU of scripts/gpu_check.sh).
    flops = {(r["setting"], r["frames"]): r["step_flops"] for r in result["rows"]}
    assert 0 < flops["default", 5] < flops["default", 9]
    assert all(r["flops_per_s"] == r["step_flops"] / r["step_s"] for r in result["rows"])
    assert result["settings"]["default"]["fused"] and not result["settings"]["naive"]["fused"]

    tight = [*args[:-4], "--budget-mb", "0.001"]  # nothing fits: growth stops at once
    assert main(tight) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["frames"] for r in result["rows"]] == [5, 5]
    assert result["largest_frames"] == {"naive": 0, "default": 0}


def test_bench_memory_refuses_frame_counts_wan_cannot_take(capsys):
    assert main(["bench", "memory", "--frames", "6"]) == 1
    assert "4k+1 frames" in capsys.readouterr().err


def test_bench_memory_on_two_processes_searches_each_settings_largest_video(capsys):
    """FSDP2 alone against the full stack on 2 gloo processes: every probe is reported per
    rank, and the largest fitting frame count is one whose probe fitted and whose next
    4k+1 did not (or the search cap)."""
    args = [
        "bench",
        "memory",
        "--nproc",
        "2",
        "--arch",
        "tiny",
        "--size",
        "32x32",
        "--max-frames",
        "9",
        "--budget-mb",
        "100000",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["nproc"] == 2 and result["backend"] == "gloo"
    assert set(result["largest_frames"]) == {"fsdp", "full"}
    assert result["settings"]["full"]["cp"] and not result["settings"]["fsdp"]["cp"]
    for name in ("fsdp", "full"):
        rows = [r for r in result["rows"] if r["setting"] == name]
        assert rows and all(len(r["peak_mb_per_rank"]) == 2 and r["step_s"] > 0 for r in rows)
        assert result["largest_frames"][name] == 9  # everything fits an unlimited budget
    assert result["capacity_ratio_frames"] == 1.0

    assert main([*args[:-1], "0.001"]) == 0  # nothing fits
    result = json.loads(capsys.readouterr().out)
    assert result["largest_frames"] == {"fsdp": 0, "full": 0}
    assert "capacity_ratio_frames" not in result


def test_bench_memory_build_shows_the_meta_order_holding_less_on_each_rank(capsys):
    """`--build`: a sharded full fine-tune and its reference built the old way (each rank
    loads the whole transformer, copies it, shards both) against torchtitan's (built on meta,
    sharded, each rank reads its own rows) on 2 gloo ranks: per rank the meta order holds
    less, by both measures, and refuses to run on one process."""
    assert main(["bench", "memory", "--nproc", "2", "--build", "--arch", "small"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "memory-build" and result["precision"] == "bf16"
    assert result["weights_mb"] > 50  # the fp32 transformer, so the model dominates the peaks
    whole, meta = result["orders"]["whole"], result["orders"]["meta"]
    for kind in ("host", "anon"):
        assert len(meta[f"{kind}_peak_mb_per_rank"]) == 2
        assert max(meta[f"{kind}_peak_mb_per_rank"]) < min(whole[f"{kind}_peak_mb_per_rank"])
        assert 0 < result[f"{kind}_peak_ratio_meta_to_whole"] < 1
    assert main(["bench", "memory", "--build"]) == 1
    assert "--nproc 2" in capsys.readouterr().err


def test_bench_train_step_reports_each_path_against_the_naive_one(capsys):
    # --no-compile: test_preference checks what `train --compile` does
    args = [
        "bench",
        "train-step",
        "--batch",
        "2",
        "--repeats",
        "1",
        "--matmul-size",
        "64",
        "--no-compile",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    paths = ("naive", "default", "default_cached_reference")
    assert set(result["step_s"]) == set(paths) and all(result["step_s"][p] > 0 for p in paths)
    for p in paths:
        assert abs(result["pairs_per_s"][p] * result["step_s"][p] - 2) < 1e-9
    step_s = result["step_s"]
    assert abs(result["speedup_default_over_naive"] - step_s["naive"] / step_s["default"]) < 1e-9
    assert result["default_step_flops"] > 0 and result["base_training"]["step_flops"] > 0
    util = result["default_flops_per_s"] / result["matmul"]["flops_per_s"]
    assert abs(result["utilisation"] - util) < 1e-9
    assert result["compiled_cached_reference"] is None
    assert result["allocator"]["keeps_freed_memory"] is True  # glibc here
    assert result["allocator"]["page_faults_per_step_cached_reference"] >= 0


def test_bench_sample_times_both_samplers_on_matching_videos(capsys):
    args = [
        "bench",
        "sample",
        "--arch",
        "tiny",
        "--size",
        "32x32",
        "--frames",
        "5",
        "--steps",
        "2",
        "--batch",
        "1",
        "--repeats",
        "1",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    seconds = result["seconds"]
    assert seconds["diffusers"] > 0 and seconds["workbench"] > 0
    ratio = seconds["diffusers"] / seconds["workbench"]
    assert abs(result["speedup_workbench_over_diffusers"] - ratio) < 1e-9
    assert result["max_pixel_diff"] <= 1  # the same videos, up to rounding


def test_bench_eval_reruns_an_unchanged_checkpoint_from_the_store(capsys):
    assert main(["bench", "eval", "--n", "2", "--judges", "technical,vbench"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["judges"] == ["technical", "vbench"]
    assert set(result["judge_videos_per_s"]) == {"technical", "vbench"}
    assert 0 < result["rerun_eval_s"] < result["first_eval_s"]

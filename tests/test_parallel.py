"""Training on several processes (gloo, CPU) gives a single process's numbers: FSDP2, Ulysses
context parallel, both, and split / sequential pair parallel, for SFT, DPO and Reg-DPO; a
sharded run resumes exactly; its checkpoint is an ordinary one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from training.config import TrainConfig
from training.parallel import ParallelPlan, load_into_shards
from training.trainer import build_model, train
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.launch import spawn
from workbench.models.loading import load_model
from workbench.models.runtime import pick_runtime
from workbench.store import Store

SCRIPT = str(Path(sys.executable).parent / "workbench")
STEPS = 4
LAYOUTS_2 = {  # name: (nproc, dp_shard, cp, pair)
    "fsdp": ParallelPlan(2, 2, 1, "fused"),
    "cp": ParallelPlan(2, 1, 2, "fused"),
    "split": ParallelPlan(2, 1, 1, "split"),
}
LAYOUTS_4 = {"fsdp_cp": ParallelPlan(4, 2, 2, "fused")}
METHODS = ("sft", "dpo", "regdpo")


@pytest.fixture(scope="module")
def pairs_home(tmp_path_factory):
    """A world, a base trained from scratch and GT-Pairs of its rollouts."""
    home = tmp_path_factory.mktemp("parallel")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        assert main(["world", "make", "--n", "8"]) == 0
        assert main(["train", "--name", "base", "--steps", "3", "--batch-size", "4"]) == 0
        assert main(["gtpair", "build", "--generators", "base", "--n", "4", "--steps", "2"]) == 0
    finally:
        os.environ.pop("WORKBENCH_HOME") if old is None else os.environ.update(WORKBENCH_HOME=old)
    return home


def _config(method: str, **extra) -> TrainConfig:
    return TrainConfig(
        method=method,
        pairs="gt-shapes",
        init="base",
        steps=STEPS,
        batch_size=4,
        lr=1e-4,
        checkpoint_every=2,
        **extra,
    )


def _worker(rank: int, home: str, runs: list) -> None:
    store = Store(home)
    for name, cfg, plan in runs:
        train(store, cfg, name, progress=False, plan=plan)


def _spawn(home: Path, world: int, runs: list) -> None:
    spawn(_worker, world, str(home), runs)


def _metrics(store: Store, name: str) -> dict[tuple[int, str], float]:
    rows = store.query(
        """SELECT m.step, m.name, m.value FROM train_metrics m JOIN runs r ON r.id = m.run_id
           WHERE r.config->>'name' = ? AND m.name NOT IN ('step_time', 'lr')""",
        [name],
    )
    return {(r["step"], r["name"]): r["value"] for r in rows}


def _weights(home: Path, name: str) -> dict[str, torch.Tensor]:
    folder = home / "checkpoints" / name
    lora = folder / "pytorch_lora_weights.safetensors"
    return load_file(
        lora if lora.exists() else folder / "transformer" / "diffusion_pytorch_model.safetensors"
    )


def _assert_same_run(home: Path, single: str, parallel: str) -> None:
    store = Store(home)
    one, many = _metrics(store, single), _metrics(store, parallel)
    assert one.keys() == many.keys() and len({step for step, _ in one}) == STEPS
    for key, value in one.items():  # loss, its terms, grad norm, accuracy: every step
        assert many[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (parallel, key)
    a, b = _weights(home, single), _weights(home, parallel)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=2e-6, msg=f"{parallel} {key}")


def test_every_layout_matches_one_process(pairs_home):
    store = Store(pairs_home)
    for method in METHODS:  # the single-process runs, in this process
        train(store, _config(method), f"{method}-one", progress=False)
    train(store, _config("regdpo", lora=False), "full-one", progress=False)

    runs_2 = [
        (f"{m}-{layout}", _config(m), plan)
        for layout, plan in LAYOUTS_2.items()
        for m in METHODS
        if not (layout == "split" and m == "sft")
    ]
    runs_2.append(("full-fsdp", _config("regdpo", lora=False), LAYOUTS_2["fsdp"]))
    # A cached reference (computed by every process, looked up per side) gives the live one's
    # numbers too.
    runs_2.append(("regdpo-cached", _config("regdpo", reference="cached"), LAYOUTS_2["split"]))
    _spawn(pairs_home, 2, runs_2)
    _spawn(pairs_home, 4, [(f"{m}-fsdp_cp", _config(m), LAYOUTS_4["fsdp_cp"]) for m in METHODS])

    for name, *_ in runs_2:
        _assert_same_run(pairs_home, f"{name.split('-')[0]}-one", name)
    for method in METHODS:
        _assert_same_run(pairs_home, f"{method}-one", f"{method}-fsdp_cp")
    assert Store(pairs_home).query("SELECT count(*) AS n FROM runs WHERE status != 'done'") == [
        {"n": 0}
    ]


def test_a_sharded_full_fine_tune_is_built_on_meta_and_loaded_after(pairs_home, tmp_path):
    """torchtitan's order, so no rank holds a whole 14B model: a sharded full fine-tune's
    transformer is built on the meta device and `load_into_shards` gives it the checkpoint's
    weights after `fully_shard` (the layouts above prove the numbers); a LoRA base and one
    process load at once. A folder that lacks a weight is refused in one line."""
    store, runtime = Store(pairs_home), pick_runtime("fp32")
    model, parent, weights = build_model(store, _config("regdpo", lora=False), runtime, True)
    assert all(p.is_meta for p in model.transformer.parameters())
    assert weights == parent.path / "transformer"
    rope = model.transformer.rope.freqs_cos
    assert not rope.is_meta and rope.dtype == torch.float32  # computed, not loaded
    for cfg, sharded in ((_config("regdpo"), True), (_config("regdpo", lora=False), False)):
        plain, _, none = build_model(store, cfg, runtime, sharded)
        assert none is None and not any(p.is_meta for p in plain.transformer.parameters())

    load_into_shards(model.transformer, weights, runtime.device)  # one process: whole tensors
    expected = load_model(parent.path).transformer.state_dict()
    loaded = model.transformer.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key

    partial = tmp_path / "partial"
    partial.mkdir()

    save_file(
        {k: v for k, v in expected.items() if "blocks.0." not in k and "rope" not in k},
        partial / "diffusion_pytorch_model.safetensors",
    )
    empty, *_ = build_model(store, _config("regdpo", lora=False), runtime, True)
    with pytest.raises(WorkbenchError, match=r"no weights for blocks\.0\."):
        load_into_shards(empty.transformer, partial, runtime.device)


def test_a_bf16_full_fine_tune_on_two_processes_matches_one(pairs_home):
    """Under bf16 FSDP2 gathers a full fine-tune's weights as bf16 except what the model keeps
    in fp32 (norms, scale_shift_table, time embedder), as one process and the frozen
    reference keep them: at step 0 policy = reference (s = 0) on one process and on two,
    and the two runs agree within bf16 rounding."""
    store = Store(pairs_home)
    cfg = _config("regdpo", lora=False, precision="bf16")
    train(store, cfg, "bf16-one", progress=False)
    _spawn(pairs_home, 2, [("bf16-fsdp", cfg, LAYOUTS_2["fsdp"])])
    one, many = _metrics(store, "bf16-one"), _metrics(store, "bf16-fsdp")
    assert one[1, "s"] == 0.0 and many[1, "s"] == 0.0
    for step in range(1, STEPS + 1):
        for name in ("loss", "dpo", "sft"):
            assert many[step, name] == pytest.approx(one[step, name], rel=2e-2), (step, name)
    start = _weights(pairs_home, "base")
    a, b = _weights(pairs_home, "bf16-one"), _weights(pairs_home, "bf16-fsdp")
    lr = cfg.lr
    for key in a:  # Adam moves an element by at most about lr a step, whatever the rounding
        assert (b[key] - a[key]).abs().max() <= 2 * lr * STEPS, key
    # What was learnt agrees as a whole: bf16 rounding flips the sign of a few near-zero
    # gradients, which moves single elements by up to lr.
    gap = torch.cat([(b[k] - a[k]).flatten() for k in a]).norm()
    learnt = torch.cat([(a[k] - start[k]).flatten() for k in a]).norm()
    assert gap <= 0.1 * learnt, (float(gap), float(learnt))


def test_a_killed_sharded_run_resumes_exactly_and_loads_in_diffusers(pairs_home, tmp_path):
    """Through the CLI: `--nproc 2` runs torchrun; killed after its first sharded checkpoint,
    `--resume` on two processes ends on the uninterrupted run's weights, bit for bit."""
    env = {**os.environ, "WORKBENCH_HOME": str(pairs_home), "OMP_NUM_THREADS": "1"}
    args = [
        SCRIPT,
        "train",
        "--method",
        "regdpo",
        "--pairs",
        "gt-shapes",
        "--init",
        "base",
        "--steps",
        "6",
        "--batch-size",
        "4",
        "--lr",
        "1e-3",
        "--checkpoint-every",
        "2",
        "--nproc",
        "2",
        "--cp",
        "2",
    ]
    subprocess.run(
        [*args, "--name", "whole", "--keep-shards"], env=env, check=True, capture_output=True
    )
    assert (pairs_home / "checkpoints" / "whole" / "shards" / ".metadata").is_file(), "asked"

    proc = subprocess.Popen(
        [*args, "--name", "cut"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = pairs_home / "checkpoints" / "cut" / "training_state.pt"
    deadline = time.monotonic() + 180
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers
    proc.wait()
    saved = torch.load(state, weights_only=False)
    assert saved["sharded"] and 0 < saved["step"] < 6, "killed mid-way, after a checkpoint"
    assert (pairs_home / "checkpoints" / "cut" / "shards" / ".metadata").is_file()

    one_process = subprocess.run(
        [*args[:-4], "--name", "cut", "--resume"], env=env, capture_output=True, text=True
    )
    assert one_process.returncode == 1 and "resume it the same way" in one_process.stderr
    subprocess.run([*args, "--name", "cut", "--resume"], env=env, check=True, capture_output=True)
    whole, cut = _weights(pairs_home, "whole"), _weights(pairs_home, "cut")
    assert whole.keys() == cut.keys() and all(torch.equal(whole[k], cut[k]) for k in whole)
    assert not (pairs_home / "checkpoints" / "cut" / "shards").exists(), "done: no optimizer"

    # The consolidated checkpoint is an ordinary LoRA one: diffusers reads it and the
    # workbench merges it into its parent.
    from workbench.models.loading import load_model

    base = load_model(pairs_home / "checkpoints" / "base").transformer.state_dict()
    merged = load_model(pairs_home / "checkpoints" / "cut").transformer.state_dict()
    changed = [k for k in base if not torch.equal(base[k], merged[k])]
    assert changed and all("attn" in k or "ffn" in k for k in changed)


@pytest.mark.parametrize("nproc", [2, 4])
def test_a_failing_rank_stops_the_run_with_its_error_said_once(pairs_home, nproc):
    """One rank fails at a step, or inside a sharded save: the others stop within a bounded
    time (torchrun's agent ends them; nobody waits at a barrier), and the launcher says the
    first error once, not its echoes ("Connection closed by peer") from the other ranks."""
    inject = Path(__file__).parent / "data" / "inject_failure"
    for where, said in (
        ("step", "injected failure at step 2"),
        ("save", "injected failure inside the sharded save"),
    ):
        env = {
            **os.environ,
            "WORKBENCH_HOME": str(pairs_home),
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(inject),
            "FAIL_WHERE": where,
            "FAIL_RANK": str(nproc - 1),
        }
        started = time.monotonic()
        run = subprocess.run(
            [
                SCRIPT,
                "train",
                "--method",
                "regdpo",
                "--pairs",
                "gt-shapes",
                "--init",
                "base",
                "--steps",
                "4",
                "--batch-size",
                "4",
                "--checkpoint-every",
                "1",
                "--nproc",
                str(nproc),
                "--name",
                f"fails-{where}-{nproc}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert run.returncode == 1, run.stderr[-2000:]
        assert errors == [f"error: rank {nproc - 1}: " + errors[0].split(": ", 2)[2]], errors
        assert said in errors[0] and "Connection closed" not in run.stderr, run.stderr[-2000:]
        assert time.monotonic() - started < 120
        run_status = Store(pairs_home).query(
            "SELECT status FROM runs WHERE config->>'name' = ?", [f"fails-{where}-{nproc}"]
        )
        # Rank 0 marks the run failed when the failure reaches it first; when torchrun's agent
        # stops it first, the run stays 'running' and resumes like a killed one.
        assert run_status in ([{"status": "failed"}], [{"status": "running"}]), run_status


def test_one_rank_under_torchrun_takes_the_sharded_path(pairs_home):
    """What scripts/gpu_check.sh runs on one GPU with NCCL, here with gloo: a lone torchrun
    worker joins a group and trains through FSDP2, the collectives and a sharded save."""
    env = {**os.environ, "WORKBENCH_HOME": str(pairs_home), "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "1",
            "-m",
            "workbench",
            "--",
            "train",
            "--method",
            "regdpo",
            "--pairs",
            "gt-shapes",
            "--init",
            "base",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--checkpoint-every",
            "1",
            "--name",
            "lone-rank",
            "--keep-shards",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    metrics = _metrics(Store(pairs_home), "lone-rank")
    assert metrics[1, "s"] == 0.0 and (2, "loss") in metrics
    folder = pairs_home / "checkpoints" / "lone-rank"
    assert (folder / "pytorch_lora_weights.safetensors").exists()
    assert (folder / "shards" / ".metadata").is_file(), "the sharded save ran"


def test_a_worker_whose_launcher_is_gone_leaves_at_once(tmp_path):
    """PR_SET_PDEATHSIG is armed after the worker starts: a launcher that died before that
    never signals, so the worker checks that its parent is still the launcher."""
    script = "from workbench.launch import die_with_launcher; die_with_launcher(); print('on')"
    env = {**os.environ, "WORKBENCH_LAUNCHER_PID": "1"}  # not this process's parent
    gone = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert gone.returncode == 1 and "on" not in gone.stdout
    env["WORKBENCH_LAUNCHER_PID"] = str(os.getpid())
    alive = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert alive.returncode == 0 and alive.stdout.strip() == "on"


def test_rollouts_and_eval_share_their_work_over_processes(pairs_home):
    """`--nproc 2` for GT-Pair rollouts and eval: each video is generated by one process and
    scored once, the pair set is written once, and a single-process eval then finds it all."""
    env = {**os.environ, "WORKBENCH_HOME": str(pairs_home), "OMP_NUM_THREADS": "1"}

    def cli(*args: str) -> str:
        done = subprocess.run([SCRIPT, "--json", *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    built = json.loads(
        cli(
            "gtpair",
            "build",
            "--generators",
            "base",
            "--per-sample",
            "2",
            "--steps",
            "2",
            "--name",
            "gt-two",
            "--nproc",
            "2",
        )
    )
    store = Store(pairs_home)
    train_samples = store.query("SELECT count(*) AS n FROM samples WHERE split = 'train'")[0]["n"]
    assert built["pairs"] == 2 * train_samples  # printed once, by rank 0
    assert store.query(
        "SELECT count(*) AS n FROM runs WHERE kind = 'gtpair.build' "
        "AND config->>'pairset' = 'gt-two'"
    ) == [{"n": 1}]

    sharded = json.loads(
        cli(
            "eval",
            "--ckpt",
            "base",
            "--judges",
            "shapes-pf,technical",
            "--steps",
            "2",
            "--nproc",
            "2",
        )
    )
    per_run = store.query("""SELECT g.run_id, count(*) AS n FROM generations g
                             JOIN samples s ON s.id = g.sample_id
                             WHERE g.checkpoint = 'base' AND s.split = 'test' GROUP BY ALL""")
    test_samples = store.query("SELECT count(*) AS n FROM samples WHERE split = 'test'")[0]["n"]
    assert len(per_run) == 2 and sum(r["n"] for r in per_run) == test_samples
    twice = store.query("""SELECT video_id, judge, dimension FROM scores GROUP BY ALL
                           HAVING count(*) > 1""")
    assert twice == []
    again = json.loads(
        cli("eval", "--ckpt", "base", "--judges", "shapes-pf,technical", "--steps", "2")
    )
    assert again == sharded


def test_a_layout_that_does_not_fit_says_so_in_one_line(pairs_home):
    """Refused before launch (the plan) or by the workers (the model): either way one error
    line, however many processes said it, and no run recorded."""
    from helpers import snapshot

    env = {**os.environ, "WORKBENCH_HOME": str(pairs_home), "OMP_NUM_THREADS": "1"}
    store = Store(pairs_home)
    before = snapshot(store)
    train = [
        SCRIPT,
        "train",
        "--method",
        "regdpo",
        "--pairs",
        "gt-shapes",
        "--init",
        "base",
        "--name",
        "bad",
        "--steps",
        "2",
        "--batch-size",
        "4",
    ]
    cases = [
        (["--nproc", "3", "--cp", "2"], "not a multiple of --cp 2"),
        (["--nproc", "2", "--pair-parallel", "split", "--method", "sft"], "sft has no loser"),
        (["--nproc", "3", "--cp", "3"], "256 tokens"),  # found by the 3 workers
    ]
    for extra, message in cases:
        done = subprocess.run([*train, *extra], env=env, capture_output=True, text=True)
        errors = [
            line
            for line in done.stderr.replace("\r", "\n").splitlines()
            if line.strip() and "%|" not in line
        ]  # progress bars aside
        assert done.returncode == 1 and len(errors) == 1, (extra, done.stderr[-3000:])
        assert errors[0].startswith("error: ") and message in errors[0]
    assert snapshot(store) == before

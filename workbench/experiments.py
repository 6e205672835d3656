"""The paper's study as a plan of workbench commands, and the record of its stages.

A study is an ordered list of stages, each one `workbench` command line, so its record is
what a person can rerun by hand. The plan is plain data (presets below); `run_study` executes
it through the command line a face hands it (`workbench experiment run` hands the CLI's
`main`; the app starts that command in the background), and the store keeps an append-only
record per stage (running, done, failed), so a rerun skips what is done, a killed run
continues where it stopped, and the app shows progress.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from workbench.atomic import existing_version
from workbench.checkpoint_registry import checkpoint_dir, checkpoint_exists
from workbench.datasets import list_datasets
from workbench.errors import WorkbenchError, unknown_name
from workbench.store import Store

METHODS = ("sft", "dpo", "regdpo")
PAIRSET = "gt-shapes"
STUDY_LOCK = "study.lock"
WHOLE = "(study)"  # the record of the whole run: done only once every stage is


@dataclass(frozen=True, kw_only=True)
class StudyPreset:
    """Sizes and budgets of the paper's study on the shapes world."""

    world: int
    """Clips in the world (about 20% are held out for the test split)."""
    base_steps: int
    """Steps of the I2V base trained from scratch (batch `base_batch`, lr `base_lr`)."""
    base_batch: int
    base_lr: float
    pairs: int
    """Training samples that get a GT-Pair (the base's rollout is the loser)."""
    finetune_steps: int
    """LoRA steps of each of SFT, DPO and Reg-DPO, on the same pairs."""
    eval_n: int
    """Held-out prompts every source is generated for and judged on."""
    embedded_base: bool = False
    """Use the shipped base of this preset (trained by its base recipe, models.EMBEDDED_BASES)
    instead of training it."""
    mined_gap: float = 0.05
    """Least judged gap of a judge-mined pair (the smoke base's rollouts are all alike)."""


PRESETS = {
    # Seconds: the whole study end to end, to prove the plumbing (CI).
    "smoke": StudyPreset(
        world=40,
        base_steps=20,
        base_batch=4,
        base_lr=3e-3,
        pairs=8,
        finetune_steps=4,
        eval_n=4,
        mined_gap=0.0,
    ),
    # The demo: the base (shipped; 8-9 min to retrain on two CPU cores) reads colour and
    # motion (README).
    "tiny": StudyPreset(
        world=512,
        base_steps=1500,
        base_batch=16,
        base_lr=3e-3,
        pairs=128,
        finetune_steps=200,
        eval_n=48,
        embedded_base=True,
    ),
    # The main job: the same, with a base stopped at 1000 steps (shipped; 6-7 min to retrain):
    # it reads colour but follows the motion word only about half the time and its objects
    # jitter, so both prompt following and visual quality have room to improve (the tiny
    # base's only PF weakness, shape, no fine-tune here moves: README).
    "tiny-early": StudyPreset(
        world=512,
        base_steps=1000,
        base_batch=16,
        base_lr=3e-3,
        pairs=128,
        finetune_steps=200,
        eval_n=48,
        embedded_base=True,
    ),
}


@dataclass(frozen=True)
class Stage:
    name: str
    command: list[str]
    creates: tuple[str, str] | None = None
    """('checkpoint' | 'pairset', name) a stage registers; present means done."""


def finetune_name(method: str, seed: int) -> str:
    """sft, dpo, regdpo for seed 0 and <method>-s<seed> after, so a study given more seeds
    later keeps what it made (the report groups <method> with <method>-s1, ...)."""
    return method if seed == 0 else f"{method}-s{seed}"


def paper_plan(preset: str, seeds: int = 1, retrain_base: bool = False) -> list[Stage]:
    """World -> base -> its videos -> GT-Pairs -> per seed: SFT / DPO / Reg-DPO, their videos
    judged on the held-out prompts, the report over every seed so far.

    The plan for N seeds starts with the plan for N - 1, so a finished study continues with
    more seeds (the app adds them in the background). The tiny presets' bases are embedded
    (shipped, trained by exactly their base recipe: REPRODUCE.json beside the weights)
    unless `retrain_base`.

    Raises:
        WorkbenchError: unknown preset, seeds < 1.
    """
    if seeds < 1:
        raise WorkbenchError("--seeds must be at least 1")
    blocks = [
        [(finetune_name(m, s), PAIRSET, ["--method", m, "--seed", str(s)]) for m in METHODS]
        for s in range(seeds)
    ]
    return _plan(preset, retrain_base, blocks)


# Table 10 of the paper: the weight r of the SFT term. r = 0 is DPO; DGR-scaled and fixed.
ABLATION_R = (
    ("r0", ["--r", "0"]),
    ("dgr0.2", ["--r-scale", "0.2"]),
    ("dgr0.5", ["--r-scale", "0.5"]),
    ("dgr1", ["--r-scale", "1"]),
    ("dgr2", ["--r-scale", "2"]),
    ("r10", ["--r", "10"]),
    ("r125", ["--r", "125"]),
)


def ablation_r_plan(preset: str, seeds: int = 1, retrain_base: bool = False) -> list[Stage]:
    """The paper's Table 10: Reg-DPO with r in {0, DGR/5, DGR/2, DGR, 2 DGR} and fixed values,
    on the same base and pairs (a home that ran the paper's study reuses both) and the same
    reference (the base: LoRA adapters off)."""
    if seeds != 1:
        raise WorkbenchError("the r ablation runs one seed")
    runs = [(f"regdpo-{tag}", PAIRSET, ["--method", "regdpo", *args]) for tag, args in ABLATION_R]
    return _plan(preset, retrain_base, [runs])


SIMULATED_NOISE = 0.05  # the simulated annotator's noise on the judged utility (0..1 scale)


def annotated_plan(
    preset: str, seeds: int = 1, retrain_base: bool = False, voted_pairs: int = 0
) -> list[Stage]:
    """The paper's Table 1: DPO and Reg-DPO on annotated pairs (two base rollouts per prompt,
    the better one wins) against the same on GT-Pairs, same base, budget and seed.

    The annotated pairs come from the app's votes (`pairs from-votes`) when these give at
    least half the preset's pair count (`voted_pairs`); otherwise from a simulated annotator
    (`pairs simulate`: the shapes judges plus noise), and every name says "sim".
    """
    if seeds != 1:
        raise WorkbenchError("the annotated-pairs study runs one seed")
    p = _preset(preset)
    if voted_pairs >= max(1, p.pairs // 2):
        annotated, command = "annotated", ["pairs", "from-votes", "--name", "annotated"]
    else:
        annotated = "annotated-sim"
        command = _simulate_command(p.pairs, annotated)
    runs = [(m, PAIRSET, ["--method", m, "--seed", "0"]) for m in ("dpo", "regdpo")]
    runs += [
        (f"{m}-{annotated}", annotated, ["--method", m, "--seed", "0"]) for m in ("dpo", "regdpo")
    ]
    return _plan(preset, retrain_base, [runs], (Stage(annotated, command, ("pairset", annotated)),))


def _simulate_command(pairs: int, name: str) -> list[str]:
    return [
        *("pairs", "simulate", "--generator", "base", "--per-sample", "2", "--n", str(pairs)),
        *("--noise", str(SIMULATED_NOISE), "--name", name),
    ]


# W17: where pairs come from. GT-Pairs (the paper's), judge-mined (VideoDPO), denoised from
# the real video (DenseDPO), locally corrupted (LocalDPO: the object made anew in half the
# frames) and the simulated annotator (the paper's annotated pairs), each with the same base,
# pair count, fine-tuning budget and seeds.
MINED_ROLLOUTS, DENOISE_STRENGTH, CORRUPT_SPAN = 4, 0.5, 0.5


def pair_source_name(method: str, pairset: str, seed: int) -> str:
    """GT-Pairs keep the paper study's names (a home that ran it reuses them); the others
    are <method>-<pair set>[-s<seed>]."""
    if pairset == PAIRSET:
        return finetune_name(method, seed)
    return f"{method}-{pairset}" + ("" if seed == 0 else f"-s{seed}")


def pair_sources_plan(preset: str, seeds: int = 1, retrain_base: bool = False) -> list[Stage]:
    """DPO and Reg-DPO on each pair source, per seed, judged on the held-out prompts; the
    report's preference-data table says what each fine-tune learned from."""
    if seeds < 1:
        raise WorkbenchError("--seeds must be at least 1")
    p = _preset(preset)
    n = str(p.pairs)
    commands = {
        "mined": ["pairs", "mine", "--generator", "base", "--per-sample", str(MINED_ROLLOUTS)],
        "denoised": ["pairs", "denoise", "--generator", "base"],
        "corrupted": ["pairs", "corrupt", "--generator", "base", "--region", "object"],
    }
    commands["mined"] += ["--gap", str(p.mined_gap), "--n", n, "--name", "mined"]
    commands["denoised"] += ["--strength", str(DENOISE_STRENGTH), "--n", n, "--name", "denoised"]
    commands["corrupted"] += ["--span", str(CORRUPT_SPAN), "--n", n, "--name", "corrupted"]
    commands["annotated-sim"] = _simulate_command(p.pairs, "annotated-sim")
    sources = [PAIRSET, *commands]
    stages = tuple(Stage(name, cmd, ("pairset", name)) for name, cmd in commands.items())
    blocks = [
        [
            (pair_source_name(m, source, s), source, ["--method", m, "--seed", str(s)])
            for source in sources
            for m in ("dpo", "regdpo")
        ]
        for s in range(seeds)
    ]
    return _plan(preset, retrain_base, blocks, stages)


# W13's recipe question: prompt dropout while fine-tuning, crossed with the guidance scale the
# videos are sampled with (the default first: the study's other tables read it).
RECIPE_DROPOUT = (0.0, 0.1)
RECIPE_GUIDANCE = (4.0, 1.0)


def recipe_name(method: str, dropout: float, seed: int) -> str:
    """A recipe study's fine-tune: <method>-d<dropout>-s<seed>."""
    return f"{method}-d{dropout:g}-s{seed}"


def recipe_plan(preset: str, seeds: int = 1, retrain_base: bool = False) -> list[Stage]:
    """SFT, DPO and Reg-DPO fine-tuned with prompt dropout 0 and 0.1 (`<method>-d<p>-s<seed>`)
    on the same base and GT-Pairs, each judged on videos sampled with guidance 4 and 1: does
    Reg-DPO's gain over the base and over SFT depend on the recipe?"""
    if seeds < 1:
        raise WorkbenchError("--seeds must be at least 1")
    runs = [
        (
            recipe_name(m, d, s),
            PAIRSET,
            ["--method", m, "--seed", str(s), "--prompt-dropout", f"{d:g}"],
        )
        for d in RECIPE_DROPOUT
        for s in range(seeds)
        for m in METHODS
    ]
    return _plan(preset, retrain_base, [runs], guidances=RECIPE_GUIDANCE)


def _plan(
    preset: str,
    retrain_base: bool,
    blocks: list[list[tuple[str, str, list[str]]]],
    pair_stages: tuple[Stage, ...] = (),
    guidances: tuple[float | None, ...] = (None,),
) -> list[Stage]:
    """The shared stages, then per block of fine-tunes (name, pair set, train arguments) their
    training, their eval and a report over every block so far (blocks after the first tag
    theirs -s<i>); with several `guidances`, each eval and report once per scale (the first
    keeps the plain stage names)."""
    p = _preset(preset)
    n = ["--n", str(p.eval_n)]
    sampled = [
        ("" if i == 0 else f"-g{g:g}", [] if g is None else ["--guidance", f"{g:g}"])
        for i, g in enumerate(guidances)
    ]
    stages = [
        Stage("world", ["world", "make", "--n", str(p.world)]),
        _base_stage(p, preset, retrain_base),
        # Ground truth and base first, so the app has something to compare early.
        *(
            Stage(f"eval-base{tag}", ["eval", "--ckpt", "gt", "--ckpt", "base", *n, *g])
            for tag, g in sampled
        ),
        Stage(
            "gtpairs",
            ["gtpair", "build", "--generators", "base", "--n", str(p.pairs), "--name", PAIRSET],
            ("pairset", PAIRSET),
        ),
    ]
    stages += pair_stages
    sources = ["gt", "base"]
    for i, block in enumerate(blocks):
        for name, pairset, args in block:
            # Preference arms on the same pairs and seed share one reference: its errors are
            # computed by the first and read from the shared cache by the others.
            shared = [] if "sft" in args else ["--reference", "cached"]
            stages.append(_finetune_stage(name, pairset, [*args, *shared], p.finetune_steps))
        new = [name for name, _, _ in block]
        sources += new
        judged = sources if i == 0 else new
        block_tag = "" if i == 0 else f"-s{i}"
        stages += [
            Stage(f"eval{block_tag}{tag}", ["eval", *_ckpts(judged), *n, *g]) for tag, g in sampled
        ]
        stages += [
            Stage(f"report{block_tag}{tag}", ["report", *_ckpts(sources), *g]) for tag, g in sampled
        ]
    return stages


def _base_stage(p: StudyPreset, preset: str, retrain_base: bool) -> Stage:
    """The shipped embedded base of the preset, or one trained from scratch."""
    if p.embedded_base and not retrain_base:
        embedded = [] if preset == "tiny" else [preset]
        command = ["checkpoints", "add", "--name", "base", "--embedded", *embedded]
    else:
        command = [
            *("train", "--name", "base", "--task", "i2v", "--steps", str(p.base_steps)),
            *("--batch-size", str(p.base_batch), "--lr", str(p.base_lr)),
            *("--warmup", str(min(50, p.base_steps // 10)), "--schedule", "cosine"),
            *("--t-shift", "3"),
        ]
    return Stage("base", command, ("checkpoint", "base"))


def _finetune_stage(name: str, pairset: str, args: list[str], steps: int) -> Stage:
    command = [
        *("train", *args, "--pairs", pairset, "--init", "base"),
        *("--name", name, "--steps", str(steps)),
    ]
    return Stage(name, command, ("checkpoint", name))


def _ckpts(names: list[str]) -> list[str]:
    return [x for name in names for x in ("--ckpt", name)]


def _preset(preset: str) -> StudyPreset:
    if preset not in PRESETS:
        raise unknown_name("preset", preset, PRESETS)
    return PRESETS[preset]


PLANS = {
    "paper": paper_plan,
    "ablation-r": ablation_r_plan,
    "annotated": annotated_plan,
    "recipe": recipe_plan,
    "pair-sources": pair_sources_plan,
}


def preset_dict(preset: str) -> dict[str, Any]:
    return dataclasses.asdict(PRESETS[preset])


@contextmanager
def study_lock(store: Store) -> Iterator[None]:
    """One study at a time per home (the app checks it before starting one).

    Raises:
        WorkbenchError: another process is running a study in this home.
    """
    with open(store.home / STUDY_LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkbenchError("a study is already running in this home") from None
        yield


def study_running(store: Store) -> bool:
    try:
        with study_lock(store):
            return False
    except WorkbenchError:
        return True


# -- the runner -----------------------------------------------------------------------------

Execute = Callable[[list[str]], int]
"""Runs one stage's command line (without `--home`: the study's home is the runner's) and
returns its exit code."""


def run_study(
    store: Store, study: str, preset: str, seeds: int, retrain_base: bool, execute: Execute
) -> list[dict[str, Any]]:
    """Run (or continue) `study` in this home; its stages' status after.

    Raises:
        WorkbenchError: an unknown study or preset, a home whose study ran with other
            settings, a study already running here, or a stage that failed.
    """
    if study not in PLANS:
        raise unknown_name("study", study, PLANS)
    votes = {}
    if study == "annotated":  # annotated pairs from votes when people gave enough
        from workbench.pairsets.voted import agreed_pairs

        votes["voted_pairs"] = len(agreed_pairs(store, "annotated"))
    plan = PLANS[study](preset, seeds, retrain_base, **votes)
    recorded = recorded_commands(store, study)
    for stage in plan:
        if recorded.get(stage.name, stage.command) != stage.command:
            raise WorkbenchError(
                f"this home's {study!r} study ran stage {stage.name!r} with other settings; "
                "use a fresh --home for another preset"
            )
    whole = Stage(WHOLE, ["experiment", "run", study, "--preset", preset, "--seeds", str(seeds)])
    with study_lock(store):
        record_stage(store, study, whole, "running")
        _run_plan(store, study, plan, execute)
        record_stage(store, study, whole, "done")
    return stage_status(store, study)


def _run_plan(store: Store, study: str, plan: list[Stage], execute: Execute) -> None:
    done = {r["stage"] for r in stage_status(store, study) if r["status"] == "done"}
    for i, stage in enumerate(plan, start=1):
        if stage.name in done or _created(store, stage):
            if stage.name not in done:  # killed after its work landed, before its record
                record_stage(store, study, stage, "done")
            continue
        print(f"[{i}/{len(plan)}] {stage.name}: workbench {' '.join(stage.command)}", flush=True)
        record_stage(store, study, stage, "running")
        resume = ["--resume"] if _unfinished_training(store, stage) else []
        if execute([*stage.command, *resume]) != 0:
            record_stage(store, study, stage, "failed", "see the error above")
            raise WorkbenchError(f"stage {stage.name!r} failed; fix it and rerun to continue")
        record_stage(store, study, stage, "done")


def _created(store: Store, stage: Stage) -> bool:
    if stage.creates is None:
        return False
    kind, name = stage.creates
    if kind == "pairset":
        return store.pairset_exists(name)
    return checkpoint_exists(store, name)


def _unfinished_training(store: Store, stage: Stage) -> bool:
    """A training stage whose run left resumable state (it was killed)."""
    if stage.command[0] != "train":
        return False
    return existing_version(checkpoint_dir(store, stage.creates[1])) is not None


def study_to_start(store: Store, preset: str, seeds: int) -> str | None:
    """The preset the app's background study should run with, or None: none asked, one is
    running, the home's study has every stage of `seeds` seeds, or the home was filled
    otherwise (a study continues with the preset it was started with)."""
    if preset == "none" or study_running(store):
        return None
    started = recorded_preset(store, "paper")
    if started is None and list_datasets(store):
        return None
    preset = started or preset
    done = {r["stage"] for r in stage_status(store, "paper") if r["status"] == "done"}
    if all(stage.name in done for stage in paper_plan(preset, seeds)):
        return None
    return preset


# -- the record -----------------------------------------------------------------------------


def record_stage(store: Store, experiment: str, stage: Stage, status: str, message: str = ""):
    store.insert(
        "stages",
        [
            {
                "experiment": experiment,
                "stage": stage.name,
                "command": stage.command,
                "status": status,
                "message": message,
            }
        ],
    )


def study_recorded(store: Store) -> bool:
    """Whether any study has started in this home."""
    return bool(store.query("SELECT 1 FROM stages LIMIT 1"))


def stage_status(store: Store, experiment: str) -> list[dict[str, Any]]:
    """Per recorded stage, in the order stages first started: its latest status, when it last
    started, and how long it took (or has been running, in seconds)."""
    rows = store.query(
        """SELECT stage, arg_max(status, created_at) AS status,
                  max(created_at) FILTER (WHERE status = 'running') AS started,
                  max(created_at) AS last, arg_max(message, created_at) AS message
           FROM stages WHERE experiment = ? AND stage != ? GROUP BY stage
           ORDER BY min(created_at)""",
        [experiment, WHOLE],
    )
    now = datetime.datetime.now()
    for r in rows:
        last = r.pop("last")
        end = now if r["status"] == "running" else last
        r["seconds"] = round((end - r["started"]).total_seconds(), 1) if r["started"] else None
    return rows


def recorded_commands(store: Store, experiment: str) -> dict[str, list[str]]:
    rows = store.query(
        "SELECT stage, arg_max(command, created_at) AS command FROM stages "
        "WHERE experiment = ? AND stage != ? GROUP BY stage",
        [experiment, WHOLE],
    )
    return {r["stage"]: json.loads(r["command"]) for r in rows}


def recorded_preset(store: Store, experiment: str) -> str | None:
    """The preset a home's study was started with (None: no such study here)."""
    rows = store.query(
        "SELECT arg_min(command, created_at) AS command FROM stages WHERE experiment = ? "
        "AND stage = ?",
        [experiment, WHOLE],
    )
    command = json.loads(rows[0]["command"]) if rows and rows[0]["command"] else []
    return command[command.index("--preset") + 1] if "--preset" in command else None


def study_progress(store: Store, experiment: str = "paper") -> str:
    """One line for people: the study's stage, a training stage's step, and time left."""
    rows = stage_status(store, experiment)
    if not rows:
        return ""
    done = sum(r["status"] == "done" for r in rows)
    whole = store.query(
        "SELECT arg_max(status, created_at) AS status FROM stages WHERE experiment = ? "
        "AND stage = ?",
        [experiment, WHOLE],
    )
    if whole and whole[0]["status"] == "done":
        return f"Study done: {done} stages in {sum(r['seconds'] or 0 for r in rows) / 60:.1f} min."
    current = next((r for r in rows if r["status"] != "done"), None)
    if current is None:  # between two stages
        return f"Study: {done} stages done; starting the next."
    line = f"Study: {done} stages done; {current['stage']} {current['status']}"
    if current["status"] == "running":
        line += f" for {current['seconds']:.0f} s" + _training_progress(store)
    elif current["status"] == "failed":
        line += " (see the study log; rerun `workbench experiment run` to continue)"
    return line + "."


def _training_progress(store: Store) -> str:
    rows = store.query(
        """SELECT r.config->>'steps' AS total, max(m.step) AS step,
                  date_diff('second', r.started_at, max(m.created_at)) AS seconds
           FROM runs r JOIN train_metrics m ON m.run_id = r.id
           WHERE r.kind = 'train' AND r.status = 'running'
           GROUP BY r.id, r.config, r.started_at ORDER BY r.started_at DESC LIMIT 1"""
    )
    if not rows or not rows[0]["total"]:
        return ""
    total, step, seconds = int(rows[0]["total"]), rows[0]["step"], rows[0]["seconds"] or 0
    bar = "#" * round(20 * step / total)
    left = seconds / max(step, 1) * (total - step)
    return f": step {step}/{total} [{bar:<20}] about {left / 60:.1f} min left"

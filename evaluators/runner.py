"""The batch runner: generate what is missing, score what is not yet scored, store scores.

Scores are keyed by (video content hash, judge, judge version): a rerun scores nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from evaluators.base import Judge, VideoItem
from evaluators.registry import get_judge
from workbench import media
from workbench.datasets import DatasetSpec, get_dataset, load_gt_frames, load_samples
from workbench.errors import WorkbenchError
from workbench.generation import generate
from workbench.launch import share, wait_for_all
from workbench.sources import GROUND_TRUTH
from workbench.store import Store

DEFAULT_JUDGES = ("shapes-pf", "shapes-vq", "technical", "vbench")


def default_judges(store: Store, dataset: str) -> list[str]:
    """Every default judge that can score the dataset (shapes-* need the shapes world)."""
    world = get_dataset(store, dataset).kind == "world"
    return [j for j in DEFAULT_JUDGES if world or not get_judge(j).needs_world]


def evaluate(
    store: Store,
    ckpts: list[str],
    judges: list[str],
    dataset: str = "shapes",
    split: str = "test",
    n: int | None = None,
    generate_missing: bool = True,
    weights: Path | None = None,
    batch_size: int = 16,
    progress: bool = True,
    sampler: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Score each checkpoint's videos of a split; returns mean scores per dimension.

    `sampler` (seed, steps, guidance, shift) chooses which generated videos are meant.

    Raises:
        WorkbenchError: unknown or unavailable judge, unknown checkpoint, missing videos
            with generation disabled, a corrupt video (named; nothing scored for it).
    """
    spec = get_dataset(store, dataset)
    judge_objs = [_usable(get_judge(name, weights), spec) for name in judges]
    split_samples = load_samples(store, dataset, split)
    samples = {s["id"]: s for s in split_samples[:n]}
    summary = []
    for ckpt in ckpts:
        if ckpt == GROUND_TRUTH:
            videos = [(s["video_id"], s) for s in samples.values()]
        else:
            rows = generate(
                store,
                ckpt,
                dataset,
                split,
                n,
                allow_new=generate_missing,
                progress=progress,
                split_samples=split_samples,
                **(sampler or {}),
            )
            videos = [(r["video_id"], samples[r["sample_id"]]) for r in rows]
        _score_missing(store, judge_objs, spec, videos, batch_size, progress)
        summary += _summarise(store, ckpt, judge_objs, [v for v, _ in videos])
    return summary


def score_videos(
    store: Store,
    judges: list[str],
    dataset: str,
    videos: list[tuple[str, dict]],
    batch_size: int = 16,
    progress: bool = True,
    weights: Path | None = None,
) -> dict[str, str]:
    """Score (video id, sample) pairs that are not scored yet by each judge's current
    version; returns judge -> that version (for reading the scores back).

    Raises:
        WorkbenchError: as `evaluate`.
    """
    spec = get_dataset(store, dataset)
    judge_objs = [_usable(get_judge(name, weights), spec) for name in judges]
    _score_missing(store, judge_objs, spec, videos, batch_size, progress)
    return {judge.name: judge.version for judge in judge_objs}


def _usable(judge: Judge, spec: DatasetSpec) -> Judge:
    reason = judge.unavailable()
    if reason:
        raise WorkbenchError(f"judge {judge.name} unavailable: {reason}")
    if judge.needs_world and spec.kind != "world":
        raise WorkbenchError(
            f"judge {judge.name} scores shapes-world datasets only, not {spec.name!r}"
        )
    return judge


def _scored(store: Store, judges: list[Judge], video_ids: list[str]) -> dict[str, set[str]]:
    """Per judge, the videos its current version has scored (one query for all judges: a
    re-run on unchanged checkpoints is mostly these lookups)."""
    versions = [f"{j.name}:{j.version}" for j in judges]
    rows = store.query(
        """SELECT DISTINCT judge, video_id FROM scores
           WHERE list_contains(?, judge || ':' || judge_version) AND list_contains(?, video_id)""",
        [versions, sorted(set(video_ids))],
    )
    done: dict[str, set[str]] = {j.name: set() for j in judges}
    for row in rows:
        done[row["judge"]].add(row["video_id"])
    return done


def _score_missing(
    store: Store,
    judges: list[Judge],
    spec: DatasetSpec,
    videos,
    batch_size: int,
    progress: bool,
) -> None:
    """Each judge scores the videos its current version has not: a batch's videos are
    decoded once for all judges, and its scores stored in one transaction."""
    done = _scored(store, judges, [v for v, _ in videos])
    todo = [(v, s) for v, s in dict(videos).items() if any(v not in d for d in done.values())]
    todo = share(todo)  # under torchrun: this process's part
    names = ", ".join(j.name for j in judges)
    bar = tqdm(total=len(todo), desc=f"score {names}", unit="video", disable=not progress)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        items = _items(store, spec, batch)
        rows = []
        for judge in judges:
            mine = [item for item in items if item.video_id not in done[judge.name]]
            rows += [
                {
                    "video_id": item.video_id,
                    "judge": judge.name,
                    "judge_version": judge.version,
                    "dimension": dim,
                    "value": value,
                }
                for item, scores in zip(mine, judge.score(mine) if mine else [], strict=True)
                for dim, value in scores.items()
            ]
        store.insert("scores", rows)
        bar.update(len(batch))
    bar.close()
    wait_for_all()  # every process's scores are stored before anyone reads them


def _items(store: Store, spec: DatasetSpec, batch: list[tuple[str, dict]]) -> list[VideoItem]:
    """Decoded videos of a batch with their stored frame rates (one query each for the
    batch); a corrupt file raises, naming it. World samples carry their exact ground truth
    as the reference (a cheap re-render)."""
    ids = [video_id for video_id, _ in batch]
    paths = store.video_paths(ids)
    stored = store.query("SELECT id, fps FROM videos WHERE list_contains(?, id)", [ids])
    fps = {r["id"]: r["fps"] for r in stored}
    items = []
    for video_id, sample in batch:
        frames, _ = media.read_video(paths[video_id])
        reference = load_gt_frames(store, sample, spec) if spec.kind == "world" else None
        items.append(
            VideoItem(
                video_id,
                frames,
                sample["prompt"],
                sample["attributes"],
                reference,
                fps=fps[video_id],
            )
        )
    return items


def _summarise(store: Store, ckpt: str, judges: list[Judge], video_ids: list[str]) -> list[dict]:
    """Mean score per judge and dimension, in the judges' order and each judge's own order
    of dimensions."""
    versions = [f"{j.name}:{j.version}" for j in judges]
    rows = store.query(
        """SELECT judge, dimension, avg(value) AS mean, count(*) AS n FROM scores
           WHERE list_contains(?, judge || ':' || judge_version) AND list_contains(?, video_id)
           GROUP BY judge, dimension""",
        [versions, video_ids],
    )
    order = {
        (j.name, d.name): (i, k) for i, j in enumerate(judges) for k, d in enumerate(j.dimensions)
    }
    rows.sort(key=lambda r: order.get((r["judge"], r["dimension"]), (len(judges), 0)))
    return [{"checkpoint": ckpt, "judge": r.pop("judge"), **r} for r in rows]


def mean_overall(store: Store, versions: dict[str, str], video_ids: list[str]) -> dict[str, float]:
    """Each video's `overall` score averaged over the judges `versions` names (judge: version)."""
    rows = store.query(
        """SELECT video_id, avg(value) AS value FROM scores WHERE dimension = 'overall'
           AND list_contains(?, judge || '@' || judge_version) AND list_contains(?, video_id)
           GROUP BY video_id""",
        [[f"{j}@{v}" for j, v in versions.items()], video_ids],
    )
    return {r["video_id"]: r["value"] for r in rows}

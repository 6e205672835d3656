"""Blind battles and votes: the service behind the app's Vote and Annotate tabs.

A battle is two videos of one sample, served to one annotator under a random id, with the
sides drawn at random. The browser sees only `media/battles/<id>/a.mp4` and `b.mp4`: fresh
copies (their own inodes, never a labelled file's) stamped with one neutral time, so neither
the URL nor the response's Last-Modified / ETag ties a side to its source, and both have the
same container, size, fps and length. Nothing leaks which source is which until the vote is
committed (what still can: the README's "For annotators"). Votes are append-only rows; a
vote is acknowledged only after its transaction commits. Votes out, pair sets and CSV out:
`export_votes`, `agreement` (per annotator: what `workbench.pairsets.voted` builds pairs from).
"""

from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.sources import source_names, source_videos
from workbench.store import Store, fetch_dicts, insert_rows

ASPECTS = ("vq", "pf")
# What an annotator picks -> the outcome of A against B, as stored. "both bad" is kept apart
# from "same" (FastChat's bothbad_vote); both count as a tie in ratings.
CHOICES = {"A is better": "good", "same": "same", "both bad": "both_bad", "B is better": "bad"}
ROLLOUT_SEEDS = 1_000_003  # seeds of annotation rollouts live far from generation seeds


def battle_dir(store: Store, battle_id: str) -> Path:
    return store.media_dir / "battles" / battle_id


def serve_battle(
    store: Store,
    annotator: str,
    dataset: str,
    split: str,
    sources: list[str],
    rng: np.random.Generator,
) -> dict[str, Any]:
    """A new battle between two of `sources` (all pairs when more than two) on a random
    sample where both have a video.

    Raises:
        WorkbenchError: no annotator, fewer than two sources, or no sample both have.
    """
    _check_annotator(annotator)
    if not dataset:
        raise WorkbenchError("nothing to vote on yet: this home has no dataset")
    known = source_names(store, dataset)
    unknown = [s for s in sources if s not in known]
    if unknown or len(set(sources)) < 2:
        raise WorkbenchError(
            f"choose two or more sources with videos of {dataset!r} (have: {', '.join(known)})"
        )
    videos = {s: source_videos(store, dataset, split, s) for s in set(sources)}
    options = [
        (a, b, sample)
        for i, a in enumerate(sources)
        for b in sources[i + 1 :]
        for sample in videos[a]
        if sample in videos[b] and videos[a][sample] != videos[b][sample]
    ]
    if not options:
        raise WorkbenchError(f"no {split} sample of {dataset!r} has videos of those sources")
    a, b, sample = options[rng.integers(len(options))]
    return _open_battle(
        store,
        annotator,
        "checkpoints",
        dataset,
        sample,
        (a, videos[a][sample]),
        (b, videos[b][sample]),
        rng,
    )


def serve_rollouts(
    store: Store, annotator: str, dataset: str, split: str, ckpt: str, rng: np.random.Generator
) -> dict[str, Any]:
    """A battle between two rollouts of one checkpoint on a random sample (the paper's
    Annotated_Pair), generated on demand through the generation cache."""
    from workbench.datasets import load_samples
    from workbench.generation import generate

    _check_annotator(annotator)
    samples = load_samples(store, dataset, split)
    if not samples:
        raise WorkbenchError(f"dataset {dataset!r} has no {split} samples")
    sample = samples[rng.integers(len(samples))]
    first, second = rng.choice(64, size=2, replace=False)
    rollouts = [
        generate(
            store,
            ckpt,
            dataset,
            split,
            seed=int(k) * ROLLOUT_SEEDS,
            progress=False,
            sample_ids=[sample["id"]],
        )[0]
        for k in (first, second)
    ]
    sides = [(f"{ckpt} (seed {r['seed']})", r["video_id"]) for r in rollouts]
    return _open_battle(store, annotator, "rollouts", dataset, sample["id"], *sides, rng)


def _open_battle(store, annotator, kind, dataset, sample_id, first, second, rng) -> dict:
    (source_a, video_a), (source_b, video_b) = (
        (first, second) if rng.random() < 0.5 else (second, first)
    )
    battle_id = secrets.token_hex(8)
    folder = battle_dir(store, battle_id)
    paths = store.video_paths([video_a, video_b])
    folder.mkdir(parents=True)
    for side, video in (("a", video_a), ("b", video_b)):
        _blind_copy(paths[video], folder / f"{side}.mp4")
    row = {
        "id": battle_id,
        "kind": kind,
        "dataset": dataset,
        "sample_id": sample_id,
        "video_a": video_a,
        "video_b": video_b,
        "source_a": source_a,
        "source_b": source_b,
        "annotator": annotator,
    }
    try:
        store.insert("battles", [row])
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    prompt = store.query("SELECT prompt FROM samples WHERE id = ?", [sample_id])[0]["prompt"]
    return {"id": battle_id, "prompt": prompt, "a": folder / "a.mp4", "b": folder / "b.mp4"}


# Every battle file's modification time: when a source's videos were written would otherwise
# reach the browser as Last-Modified (and in the ETag Gradio derives from it).
NEUTRAL_MTIME = 946_684_800  # 2000-01-01 00:00 UTC


def _blind_copy(source: Path, target: Path) -> None:
    """The bytes of `source` in a new file (a hard link would share the labelled file's inode
    and times) stamped with NEUTRAL_MTIME."""
    shutil.copyfile(source, target)
    os.utime(target, (NEUTRAL_MTIME, NEUTRAL_MTIME))


# A name signs votes and is shown in tables and CSVs: letters, digits, spaces and . @ ' -
ANNOTATOR_NAME = re.compile(r"[\w .@'-]{1,64}")


def _check_annotator(annotator: str) -> None:
    if not annotator or not annotator.strip():
        raise WorkbenchError("enter your name first: every vote is signed")
    if not ANNOTATOR_NAME.fullmatch(annotator):
        raise WorkbenchError(
            "a name is 1-64 letters, digits, spaces or . @ ' - (nothing else): choose another"
        )


def record_votes(
    store: Store, battle_id: str, annotator: str, served: list[str], choices: dict[str, str]
) -> dict[str, str]:
    """Store an annotator's VQ and PF choices for a battle served in this session, in one
    transaction; returns the revealed sources. Nothing is stored when any check fails.

    Raises:
        WorkbenchError: a battle this session was not served (forged or stale id), one
            served to someone else, a second vote on the same battle and aspect, or a
            missing / unknown choice.
    """
    _check_annotator(annotator)
    if battle_id not in served:
        raise WorkbenchError("this battle was not served in this session: ask for a new one")
    if sorted(choices) != sorted(ASPECTS) or any(c not in CHOICES for c in choices.values()):
        raise WorkbenchError(f"answer both VQ and PF with one of: {', '.join(CHOICES)}")
    with store.write() as con:
        battles = fetch_dicts(con, "SELECT * FROM battles WHERE id = ?", [battle_id])
        if not battles or battles[0]["annotator"] != annotator:
            raise WorkbenchError("this battle was not served to you: ask for a new one")
        battle = battles[0]
        done = fetch_dicts(
            con,
            "SELECT aspect FROM votes WHERE battle_id = ? AND annotator = ?",
            [battle_id, annotator],
        )
        if done:
            raise WorkbenchError("you already voted on this battle; it is closed")
        insert_rows(
            con,
            "votes",
            [
                {
                    "id": secrets.token_hex(8),
                    "battle_id": battle_id,
                    "annotator": annotator,
                    "video_a": battle["video_a"],
                    "video_b": battle["video_b"],
                    "aspect": aspect,
                    "outcome": CHOICES[choice],
                }
                for aspect, choice in choices.items()
            ],
        )
    return {"A": battle["source_a"], "B": battle["source_b"]}


def vote_rows(store: Store, kind: str | None = None) -> list[dict[str, Any]]:
    """Every vote with its battle (sources, sample, dataset), oldest first."""
    where = "WHERE b.kind = ?" if kind else ""
    return store.query(
        f"""SELECT v.*, b.kind, b.dataset, b.sample_id, b.source_a, b.source_b
            FROM votes v JOIN battles b ON b.id = v.battle_id {where}
            ORDER BY v.created_at""",
        [kind] if kind else [],
    )


def export_votes(store: Store, path: Path) -> int:
    """One CSV row per annotator and battle: battle id and kind (checkpoints or rollouts),
    prompt, both videos' paths and sources, the VQ and PF labels (A, B, same or both_bad),
    annotator and time; the layout of public video-preference datasets plus what a researcher
    needs to trace a row. Only voted battles appear, so no source is named before its vote.
    Returns the number of rows."""
    label = {"good": "A", "bad": "B", "same": "same", "both_bad": "both_bad"}
    rows = store.query(
        """SELECT b.id AS battle, b.kind, s.prompt, va.path AS video_a, vb.path AS video_b,
                  b.source_a, b.source_b,
                  max(CASE WHEN v.aspect = 'vq' THEN v.outcome END) AS vq,
                  max(CASE WHEN v.aspect = 'pf' THEN v.outcome END) AS pf,
                  v.annotator, max(v.created_at) AS time
           FROM votes v JOIN battles b ON b.id = v.battle_id JOIN samples s ON s.id = b.sample_id
           JOIN videos va ON va.id = b.video_a JOIN videos vb ON vb.id = b.video_b
           GROUP BY b.id, b.kind, s.prompt, va.path, vb.path, b.source_a, b.source_b,
                    v.annotator
           ORDER BY time"""
    )
    columns = [
        "battle",
        "kind",
        "prompt",
        "video_a",
        "video_b",
        "source_a",
        "source_b",
        "vq",
        "pf",
        "annotator",
        "time",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([label.get(r[c], "") if c in ASPECTS else r[c] for c in columns])
    return len(rows)


# FastChat's battle records, as fastchat/serve/monitor/clean_battle_data.py writes them and
# its elo_analysis.py reads them: a vote's outcome for A becomes the record's `winner`.
ARENA_WINNER = {"good": "model_a", "bad": "model_b", "same": "tie", "both_bad": "tie (bothbad)"}


def arena_records(votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Votes on battles between sources (`vote_rows`) as FastChat's clean battle records, one
    per vote and aspect (`category`: vq or pf; filter on it before rating), so Chatbot-Arena
    notebooks run on them unchanged. Rollout battles (two videos of one source) are not
    battles between models and are left out."""
    return [
        {
            "question_id": v["sample_id"],
            "model_a": v["source_a"],
            "model_b": v["source_b"],
            "winner": ARENA_WINNER[v["outcome"]],
            "judge": v["annotator"],
            "conversation_a": None,
            "conversation_b": None,
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": v["created_at"].timestamp(),
            "category": v["aspect"],
            "battle_id": v["battle_id"],
        }
        for v in votes
        if v["kind"] == "checkpoints"
    ]


def agreement(
    votes: list[dict[str, Any]], aspect: str, min_agree: int
) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(sample, winner, loser) -> (annotators for, annotators against), for every voted pair of
    videos that at least `min_agree` annotators prefer, and more than prefer the other.

    Agreement is counted per annotator: each annotator's latest answer per aspect on the pair
    gives one preference (with aspect "both": the video they preferred on VQ and on PF alike;
    split or tied answers prefer nothing). Votes are oldest first, as `vote_rows` gives them.
    """
    answers: dict[tuple[str, str, str], dict[str, dict[str, str | None]]] = {}
    for v in votes:
        key = (v["sample_id"], *sorted((v["video_a"], v["video_b"])))
        winner = {"good": v["video_a"], "bad": v["video_b"]}.get(v["outcome"])
        answers.setdefault(key, {}).setdefault(v["annotator"], {})[v["aspect"]] = winner
    wanted = ASPECTS if aspect == "both" else (aspect,)
    agreed = {}
    for (sample, first, second), by_annotator in answers.items():
        counts = {first: 0, second: 0}
        for per_aspect in by_annotator.values():
            picks = {per_aspect.get(a) for a in wanted}
            if len(picks) == 1 and None not in picks:
                counts[picks.pop()] += 1
        win, lose = sorted((first, second), key=lambda video: -counts[video])
        if counts[win] >= min_agree and counts[win] > counts[lose]:
            agreed[(sample, win, lose)] = (counts[win], counts[lose])
    return agreed

"""Import real videos with captions into a dataset, normalised to its clip format.

Every file is checked first (decodable, long enough, captioned, not a duplicate); then either
all good files are imported in one transaction, or, when any file is bad and the user did not
ask to skip bad ones, nothing is.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from workbench import media
from workbench.datasets import DatasetSpec, check_dataset, commit_samples, imported_files
from workbench.errors import WorkbenchError
from workbench.provenance import run_row
from workbench.staging import MediaStage, media_stage
from workbench.store import Store

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".gif"}
FILE_COLUMNS = ("file", "video", "path")
CAPTION_COLUMNS = ("caption", "prompt", "text")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class FileOutcome:
    file: str
    reason: str = ""  # empty when the file is good
    sample_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.reason


def read_captions(path: str | Path) -> dict[str, dict[str, str]]:
    """File name -> {'caption', optional 'split'} from a CSV (with a header) or JSONL file.

    Raises:
        WorkbenchError: unreadable file, missing columns, or a malformed line.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"captions file not found: {path}")
    try:
        if path.suffix.lower() in (".jsonl", ".json"):
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        else:
            rows = list(csv.DictReader(path.read_text().splitlines()))
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise WorkbenchError(f"{path.name}: cannot parse captions ({exc})") from exc
    captions = {}
    for number, row in enumerate(rows, start=1):
        file_key = next((c for c in FILE_COLUMNS if c in row), None)
        text_key = next((c for c in CAPTION_COLUMNS if c in row), None)
        if not isinstance(row, dict) or file_key is None or text_key is None:
            raise WorkbenchError(
                f"{path.name}, entry {number}: needs a file column ({'/'.join(FILE_COLUMNS)}) "
                f"and a caption column ({'/'.join(CAPTION_COLUMNS)})"
            )
        entry = {"caption": str(row[text_key] or "").strip()}
        if row.get("split"):
            entry["split"] = str(row["split"]).strip()
        name = Path(str(row[file_key])).name
        if name in captions:
            raise WorkbenchError(f"{path.name}, entry {number}: {name} is listed twice")
        captions[name] = entry
    return captions


def import_videos(
    store: Store,
    videos_dir: str | Path,
    captions_file: str | Path,
    spec: DatasetSpec,
    split: str = "train",
    skip_bad: bool = False,
    progress: bool = True,
) -> list[FileOutcome]:
    """Import a folder of videos; returns one outcome per file, good and bad.

    Raises:
        WorkbenchError: any file is bad and `skip_bad` is off (the message lists each bad
            file and why; nothing was written), or the folder / captions are unusable.
    """
    videos_dir = Path(videos_dir)
    if not videos_dir.is_dir():
        raise WorkbenchError(f"videos folder not found: {videos_dir}")
    captions = read_captions(captions_file)
    on_disk = {p.name for p in videos_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES}
    with store.read() as con:
        check_dataset(con, spec)
        known = imported_files(con, spec.name)
    seen = {r["content_sha256"] for r in known} | {r["source_sha256"] for r in known}
    next_index = max((r["idx"] for r in known), default=-1) + 1

    outcomes, videos, samples = [], [], []
    with media_stage(store) as stage:
        for name in tqdm(
            sorted(on_disk | set(captions)), desc="import", unit="file", disable=not progress
        ):
            path, entry = videos_dir / name, captions.get(name, {})
            outcome, video, sample = _stage_file(stage, path, entry, spec, split, seen, next_index)
            outcomes.append(outcome)
            if sample is not None:
                videos.append(video)
                samples.append(sample)
                next_index += 1

        bad = [o for o in outcomes if not o.ok]
        if bad and not skip_bad:
            lines = "\n".join(f"  {o.file}: {o.reason}" for o in bad)
            raise WorkbenchError(
                f"nothing imported: {len(bad)} of {len(outcomes)} file(s) bad "
                f"(--skip-bad imports the good ones)\n{lines}"
            )
        if samples:
            config = {
                "dataset": spec.name,
                "videos": str(videos_dir),
                "captions": str(captions_file),
            }
            run = run_row("data.import", config, seed=None)
            commit_samples(stage, spec, videos, samples, run)
    return outcomes


def _stage_file(
    stage: MediaStage,
    path: Path,
    entry: dict[str, Any],
    spec: DatasetSpec,
    split: str,
    seen: set[str],
    index: int,
) -> tuple[FileOutcome, dict[str, Any] | None, dict[str, Any] | None]:
    """One file normalised and staged as sample `index` (its video and sample rows), or the
    reason it is refused (a duplicate of a hash in `seen` too, which grows by its hashes)."""
    try:
        clip, sample = _normalise_one(path, entry, spec, split)
        keys = {sample["attributes"]["content_sha256"], sample["attributes"]["source_sha256"]}
        if keys & seen:
            raise WorkbenchError("duplicate of a video already in the dataset or batch")
    except WorkbenchError as exc:
        return FileOutcome(path.name, str(exc).removeprefix(f"{path.name}: ")), None, None
    seen |= keys
    sample_id = f"{spec.name}:{index}"
    video = stage.add_video(clip, spec.fps)
    first_frame = stage.add_png(clip[0])
    sample = {**sample, "id": sample_id, "idx": index, "video_id": video["id"]}
    return (
        FileOutcome(path.name, sample_id=sample_id),
        {**video, "source": "gt", "sample_id": sample_id},
        {**sample, "first_frame": first_frame},
    )


MAX_CAPTION = 2000  # characters; UMT5 reads 512 tokens at most
MIN_FPS, MAX_FPS = 4, 240  # outside: a slideshow or a broken header, not a video clip


def _normalise_one(
    path: Path, entry: dict[str, str], spec: DatasetSpec, split: str
) -> tuple[np.ndarray, dict]:
    """The clip in the dataset's format and its sample fields, or a WorkbenchError why not."""
    if not path.is_file():
        raise WorkbenchError("listed in the captions file but not found in the folder")
    if not entry.get("caption"):
        raise WorkbenchError("missing caption")
    if len(entry["caption"]) > MAX_CAPTION:
        raise WorkbenchError(
            f"caption of {len(entry['caption'])} characters; at most {MAX_CAPTION}"
        )
    split = entry.get("split", split)
    if split not in SPLITS:
        raise WorkbenchError(f"unknown split {split!r} (use {' or '.join(SPLITS)})")
    frames, fps = media.read_video(path)
    if not MIN_FPS <= fps <= MAX_FPS:
        raise WorkbenchError(f"frame rate {fps:g} fps is outside {MIN_FPS}-{MAX_FPS} fps")
    clip = media.resample(frames, fps, spec.fps, spec.frames)
    clip = media.resize_center_crop(clip, spec.height, spec.width)
    sample = {
        "dataset": spec.name,
        "split": split,
        "prompt": entry["caption"],
        "attributes": {
            "source_file": path.name,
            "source_sha256": media.file_sha256(path),
            "content_sha256": media.array_sha256(clip),
            "source_fps": fps,
            "source_frames": len(frames),
            "source_size": list(frames.shape[1:3]),
        },
    }
    return clip, sample

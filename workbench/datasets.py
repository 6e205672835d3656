"""Datasets: a name, the clip format every sample is normalised to, and its samples."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from workbench import media
from workbench.errors import WorkbenchError, unknown_name
from workbench.staging import MediaStage
from workbench.store import Store, fetch_dicts, insert_rows


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    name: str
    kind: str  # 'world' (procedural shapes) or 'videos' (imported real clips)
    fps: float
    frames: int
    height: int
    width: int
    config: dict[str, Any]

    def clip_format(self) -> tuple[float, int, int, int]:
        return (self.fps, self.frames, self.height, self.width)


def get_dataset(store: Store, name: str) -> DatasetSpec:
    rows = store.query("SELECT * FROM datasets WHERE name = ?", [name])
    if not rows:
        raise unknown_name(
            "dataset", name, [r["name"] for r in store.query("SELECT name FROM datasets")]
        )
    return _spec(rows[0])


def stored_dataset(store: Store, name: str) -> DatasetSpec | None:
    with store.read() as con:
        return find_dataset(con, name)


def find_dataset(con: duckdb.DuckDBPyConnection, name: str) -> DatasetSpec | None:
    rows = fetch_dicts(con, "SELECT * FROM datasets WHERE name = ?", [name])
    return _spec(rows[0]) if rows else None


def _spec(row: dict[str, Any]) -> DatasetSpec:
    fields = {k: row[k] for k in ("name", "kind", "fps", "frames", "height", "width")}
    return DatasetSpec(**fields, config=json.loads(row["config"]))


def check_dataset(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> bool:
    """True if the dataset exists as `spec` defines it, False if it does not exist yet.

    Raises:
        WorkbenchError: a dataset of that name exists with another definition.
    """
    existing = find_dataset(con, spec.name)
    if existing is None:
        return False
    if (existing.kind, existing.clip_format()) != (spec.kind, spec.clip_format()) or (
        spec.kind == "world" and existing.config != json.loads(json.dumps(spec.config))
    ):
        raise WorkbenchError(
            f"dataset {spec.name!r} exists with another definition "
            f"({existing.kind}, {existing.frames} frames {existing.height}x{existing.width} "
            f"at {existing.fps:g} fps); choose another dataset name"
        )
    return True


def register_dataset(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> None:
    """Create the dataset unless it exists with the same definition."""
    if not check_dataset(con, spec):
        row = {k: getattr(spec, k) for k in ("name", "kind", "fps", "frames", "height", "width")}
        insert_rows(con, "datasets", [{**row, "config": spec.config}])


def commit_samples(
    stage: MediaStage,
    spec: DatasetSpec,
    videos: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    run: dict[str, Any],
) -> None:
    """Register the dataset and publish new clips, samples and the run, all or nothing."""

    def write(con: duckdb.DuckDBPyConnection) -> None:
        register_dataset(con, spec)
        insert_rows(con, "videos", videos, ignore_existing=True)
        insert_rows(con, "samples", samples)
        insert_rows(con, "runs", [run])

    stage.commit(write)


def sample_indices(con: duckdb.DuckDBPyConnection, dataset: str) -> set[int]:
    rows = fetch_dicts(con, "SELECT idx FROM samples WHERE dataset = ?", [dataset])
    return {r["idx"] for r in rows}


def imported_files(con: duckdb.DuckDBPyConnection, dataset: str) -> list[dict[str, Any]]:
    """Each imported sample's index and the hashes of its decoded content and source file."""
    return fetch_dicts(
        con,
        "SELECT json_extract_string(attributes, '$.content_sha256') AS content_sha256, "
        "json_extract_string(attributes, '$.source_sha256') AS source_sha256, idx "
        "FROM samples WHERE dataset = ?",
        [dataset],
    )


def list_datasets(store: Store) -> list[dict[str, Any]]:
    return store.query(
        """SELECT d.name, d.kind, d.frames, d.height, d.width, d.fps,
                  count(s.id) FILTER (s.split = 'train') AS train,
                  count(s.id) FILTER (s.split = 'test') AS test
           FROM datasets d LEFT JOIN samples s ON s.dataset = d.name
           GROUP BY ALL ORDER BY d.name"""
    )


def load_samples(store: Store, dataset: str, split: str | None = None) -> list[dict[str, Any]]:
    """Samples with their ground-truth video path, in index order; attributes parsed.

    Raises:
        WorkbenchError: unknown dataset.
    """
    rows = store.query(
        """SELECT s.*, v.path AS video_path FROM samples s JOIN videos v ON v.id = s.video_id
           WHERE s.dataset = ? AND (? IS NULL OR s.split = ?) ORDER BY s.idx""",
        [dataset, split, split],
    )
    if not rows:
        get_dataset(store, dataset)  # an unknown name is an error, an empty split is not
    for row in rows:
        row["attributes"] = json.loads(row["attributes"]) if row["attributes"] else {}
    return rows


def load_first_frame(store: Store, relative: str) -> np.ndarray:
    """A sample's stored first frame (its PNG), (H, W, 3) uint8: the I2V condition that
    generation and training both use."""
    from PIL import Image

    return np.asarray(Image.open(store.path(relative)).convert("RGB"))


def load_gt_frames(
    store: Store, sample: dict[str, Any], spec: DatasetSpec | None = None
) -> np.ndarray:
    """A sample's ground-truth clip, (T, H, W, 3) uint8, as exactly as it exists.

    World clips are re-rendered from their attributes (the mp4 is lossy: yuv420p halves the
    chroma of 32-pixel clips); imported clips are read from their normalised mp4. Pass the
    dataset's `spec` when loading many: looking it up is a store round trip per clip.
    """
    spec = spec or get_dataset(store, sample["dataset"])
    if spec.kind == "world":
        from workbench.world.shapes import WorldConfig, render

        return render(WorldConfig.from_dict(spec.config["world"]), sample["attributes"])
    frames, _ = media.read_video(store.path(sample["video_path"]))
    return frames

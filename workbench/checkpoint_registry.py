"""The checkpoint registry: names for model folders, with method, parent and fingerprint."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from workbench.atomic import atomic_directory
from workbench.errors import WorkbenchError, unknown_name
from workbench.store import Store, fetch_dicts, insert_rows

CHECKPOINTS_DIR = "checkpoints"


@dataclass(frozen=True)
class CheckpointRef:
    name: str
    path: Path
    method: str
    task: str
    fingerprint: str
    parent: str | None = None


def checkpoint_dir(store: Store, name: str) -> Path:
    return store.home / CHECKPOINTS_DIR / name


def register_checkpoint(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    *,
    name: str,
    path: Path,
    method: str,
    task: str,
    parent: str | None = None,
    run_id: str | None = None,
    config: dict[str, Any] | None = None,
) -> CheckpointRef:
    from workbench.models.loading import weights_fingerprint

    if fetch_dicts(con, "SELECT name FROM checkpoints WHERE name = ?", [name]):
        raise WorkbenchError(f"checkpoint {name!r} is already registered; choose another name")
    path = Path(path).resolve()
    stored = (
        path.relative_to(store.home.resolve())
        if path.is_relative_to(store.home.resolve())
        else path
    )
    ref = CheckpointRef(name, path, method, task, weights_fingerprint(path), parent)
    insert_rows(
        con,
        "checkpoints",
        [
            {
                "name": name,
                "path": str(stored),
                "method": method,
                "fingerprint": ref.fingerprint,
                "task": task,
                "parent": parent,
                "run_id": run_id,
                "config": config or {},
            }
        ],
    )
    return ref


def resolve_checkpoint(store: Store, name_or_path: str) -> CheckpointRef:
    """A registered name, or a model folder (registered on first use as 'external').

    Raises:
        WorkbenchError: neither a registered name nor a model folder.
    """
    rows = store.query("SELECT * FROM checkpoints WHERE name = ?", [name_or_path])
    if rows:
        return _ref(store, rows[0])
    path = Path(name_or_path)
    if not path.is_dir():
        known = [r["name"] for r in store.query("SELECT name FROM checkpoints")]
        raise unknown_name("checkpoint", name_or_path, known)
    from workbench.models.loading import model_task

    task = model_task(path)  # raises for a folder that is not a model
    _refuse_non_finite(path)
    with store.write() as con:
        for row in fetch_dicts(con, "SELECT * FROM checkpoints"):
            if _ref(store, row).path == path.resolve():
                return _ref(store, row)
        names = {r[0] for r in con.execute("SELECT name FROM checkpoints").fetchall()}
        name, n = path.resolve().name, 1
        while name in names:
            n += 1
            name = f"{path.resolve().name}-{n}"
        return register_checkpoint(con, store, name=name, path=path, method="external", task=task)


def add_checkpoint(store: Store, name: str, folder: Path, method: str = "base") -> CheckpointRef:
    """Copy a model folder into <home>/checkpoints/NAME and register it.

    Raises:
        WorkbenchError: the name is taken, or the folder is not a model.
    """
    from workbench.models.loading import model_task

    if store.query("SELECT 1 FROM checkpoints WHERE name = ?", [name]):
        raise WorkbenchError(f"checkpoint {name!r} is already registered; choose another name")
    if not Path(folder).is_dir():
        raise WorkbenchError(f"{folder}: no such model folder")
    task = model_task(Path(folder))  # raises for a folder that is not a model
    _refuse_non_finite(Path(folder))
    out = checkpoint_dir(store, name)
    with atomic_directory(out) as tmp:
        shutil.copytree(folder, tmp, dirs_exist_ok=True)
    with store.write() as con:
        return register_checkpoint(
            con,
            store,
            name=name,
            path=out,
            method=method,
            task=task,
            config={"copied_from": str(folder)},
        )


def _refuse_non_finite(folder: Path) -> None:
    """Every checkpoint is checked once, when it is registered (training checks its own
    weights before writing them), so nothing trains or samples from NaN or inf weights."""
    from workbench.models.loading import non_finite_weight

    if bad := non_finite_weight(folder):
        raise WorkbenchError(f"{folder}: non-finite weights ({bad}); not registered")


def _ref(store: Store, row: dict[str, Any]) -> CheckpointRef:
    return CheckpointRef(
        row["name"],
        store.path(row["path"]).resolve(),
        row["method"],
        row["task"],
        row["fingerprint"],
        row["parent"],
    )


def checkpoint_exists(store: Store, name: str) -> bool:
    return bool(store.query("SELECT 1 FROM checkpoints WHERE name = ?", [name]))


def checkpoint_config(store: Store, name: str) -> dict[str, Any]:
    """The training config a checkpoint was made with ({} for one that was not trained)."""
    import json

    rows = store.query("SELECT config FROM checkpoints WHERE name = ?", [name])
    return json.loads(rows[0]["config"]) if rows and rows[0]["config"] else {}


def list_checkpoints(store: Store) -> list[dict[str, Any]]:
    """Every checkpoint and external source, oldest first, with how many videos it made."""
    return store.query(
        """SELECT c.name, c.method, c.task, c.parent, count(g.key) AS videos, c.created_at
           FROM checkpoints c LEFT JOIN generations g ON g.checkpoint = c.name
           GROUP BY ALL ORDER BY c.created_at"""
    )

"""The DuckDB store, shared safely by the app, batch jobs and training runs.

DuckDB lets one process hold the file read-write and refuses every other open, so no process
keeps a connection. Every access is a short-lived connection taken under an inter-process
file lock (`fcntl.flock` on `<home>/store.lock`): shared for reads (read-only connections may
coexist), exclusive for writes (one transaction, committed or rolled back as a whole). A
connect costs tens of milliseconds, so writers batch their rows (training flushes metrics
every few steps). Waiters retry until `timeout`, then fail with one clear line; a killed
holder releases the lock with its process and loses nothing committed.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from workbench.errors import WorkbenchError
from workbench.schema import MIGRATIONS

DB_NAME = "workbench.duckdb"
LOCK_NAME = "store.lock"


def default_home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME", "workbench-data"))


class Store:
    """One workbench home folder: the database, its lock and the media files."""

    def __init__(self, home: str | Path | None = None, timeout: float = 120.0) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.timeout = timeout
        self.db_path = self.home / DB_NAME
        self.media_dir = self.home / "media"
        self.home.mkdir(parents=True, exist_ok=True)
        self.migrate()

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        with open(self.home / LOCK_NAME, "a+") as fh:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fh, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WorkbenchError(
                            f"store {self.db_path} stayed busy for {self.timeout:.0f}s"
                        ) from None
                    time.sleep(0.005)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        # Under our lock only a foreign process (a DuckDB shell, say) can hold the file.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return duckdb.connect(str(self.db_path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WorkbenchError(f"cannot open {self.db_path}: {exc}") from exc
                time.sleep(0.05)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction under the exclusive lock: all of it commits, or none of it."""
        with self._locked(exclusive=True):
            con = self._connect(read_only=False)
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._locked(exclusive=False):
            con = self._connect(read_only=True)
            try:
                yield con
            finally:
                con.close()

    # -- schema ------------------------------------------------------------------------

    def migrate(self) -> int:
        """Bring the schema up to date; returns the version."""
        with self._locked(exclusive=True):
            con = self._connect(read_only=False)
            try:
                con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
                row = con.execute("SELECT max(version) FROM schema_version").fetchone()
                version = row[0] or 0
                if version > len(MIGRATIONS):
                    raise WorkbenchError(
                        f"{self.db_path} has schema version {version}, newer than this workbench's "
                        f"{len(MIGRATIONS)}: update the workbench (nothing was changed)"
                    )
                for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                    con.execute("BEGIN TRANSACTION")
                    con.execute(sql)
                    con.execute("INSERT INTO schema_version VALUES (?)", [number])
                    con.execute("COMMIT")
                return len(MIGRATIONS)
            finally:
                con.close()

    # -- conveniences ------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.read() as con:
            return fetch_dicts(con, sql, params)

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        with self.write() as con:
            insert_rows(con, table, rows)

    def path(self, relative: str | Path) -> Path:
        """Absolute path of a file recorded relative to the home folder."""
        return self.home / relative

    def pairset_exists(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM pairs WHERE pairset = ? LIMIT 1", [name]))

    def insert_pairs(self, pairs: Sequence[dict[str, Any]], run: dict[str, Any]) -> None:
        """A pair set and the run that built it, in one transaction."""
        with self.write() as con:
            insert_rows(con, "pairs", pairs)
            insert_rows(con, "runs", [run])

    def pairsets(self) -> list[str]:
        return [r["pairset"] for r in self.query("SELECT DISTINCT pairset FROM pairs")]

    def pair_rows(self, pairset: str) -> list[dict[str, Any]]:
        """A pair set's pairs, each with its prompt, first frame and both videos' files and
        shapes (w_* the winner, l_* the loser), in a fixed order."""
        return self.query(
            """SELECT p.id, s.prompt, s.first_frame, w.id AS w_id, w.path AS w_path,
                      w.frames AS w_frames, w.height AS w_height, w.width AS w_width,
                      l.id AS l_id, l.path AS l_path, l.frames AS l_frames,
                      l.height AS l_height, l.width AS l_width
               FROM pairs p JOIN samples s ON s.id = p.sample_id
               JOIN videos w ON w.id = p.winner_video JOIN videos l ON l.id = p.loser_video
               WHERE p.pairset = ? ORDER BY p.id""",
            [pairset],
        )

    def video_paths(self, video_ids: Sequence[str]) -> dict[str, Path]:
        """Absolute mp4 path of each video id, in one query."""
        rows = self.query(
            "SELECT id, path FROM videos WHERE list_contains(?, id)", [list(video_ids)]
        )
        return {r["id"]: self.path(r["path"]) for r in rows}


def fetch_dicts(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Sequence[dict[str, Any]],
    ignore_existing: bool = False,
) -> None:
    """Insert dict rows (all with the same keys); dicts and lists are stored as JSON.

    `ignore_existing` skips rows whose primary key is present: for content-addressed rows,
    where the same key means the same content.
    """
    if not rows:
        return
    columns = list(rows[0])
    values = [[_sql_value(row[c]) for c in columns] for row in rows]
    marks = ", ".join("?" for _ in columns)
    verb = "INSERT OR IGNORE" if ignore_existing else "INSERT"
    con.executemany(f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)


def _sql_value(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value

"""A training run's record in the store: its `runs` row (running, failed, done), its metrics
flushed every `log_every` steps, and what a resume reopens. One process of a run (rank 0)
writes; the others keep the same object and write nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from training.trackers import Tracker
from workbench.checkpoint_registry import CheckpointRef, register_checkpoint
from workbench.provenance import run_row
from workbench.store import Store


@dataclass
class RunRecord:
    store: Store
    run_id: str
    writes: bool
    """False on every process of a run but rank 0."""
    log_every: int = 10
    pending: list[dict[str, Any]] = field(default_factory=list)
    tracker: Tracker | None = None
    """Where else the flushed rows go (`--report-to`); rank 0's only."""

    @classmethod
    def start(
        cls, store: Store, config: dict[str, Any], seed: int, writes: bool, log_every: int
    ) -> RunRecord:
        """A new run, recorded as running."""
        row = run_row("train", config, seed, status="running")
        if writes:
            store.insert("runs", [row])
        return cls(store, row["id"], writes, log_every)

    @classmethod
    def reopen(
        cls, store: Store, run_id: str, step: int, writes: bool, log_every: int
    ) -> RunRecord:
        """A resumed run: running again, its metrics after `step` dropped (they are logged
        again)."""
        if writes:
            with store.write() as con:
                con.execute(
                    "DELETE FROM train_metrics WHERE run_id = ? AND step > ?", [run_id, step]
                )
                con.execute(
                    "UPDATE runs SET status = 'running', message = NULL, finished_at = NULL "
                    "WHERE id = ?",
                    [run_id],
                )
        return cls(store, run_id, writes, log_every)

    def log(self, step: int, stats: dict[str, float], flush: bool = False) -> None:
        """A step's stats; written every `log_every` steps, or now with `flush`."""
        self.pending += [
            {"run_id": self.run_id, "step": step, "name": k, "value": float(v)}
            for k, v in stats.items()
        ]
        if flush or step % self.log_every == 0:
            self.flush()

    def flush(self) -> None:
        if self.writes and self.pending:
            self.store.insert("train_metrics", self.pending)
            if self.tracker is not None:
                self.tracker.log(self.pending)
        self.pending = []

    def close_tracker(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
            self.tracker = None

    def fail(self, message: str) -> None:
        """Say why the run stopped (what was logged stays)."""
        self.flush()
        self.close_tracker()
        if self.writes:
            with self.store.write() as con:
                con.execute(
                    "UPDATE runs SET status = 'failed', message = ?, finished_at = now() "
                    "WHERE id = ?",
                    [message, self.run_id],
                )

    def finish(self, **checkpoint: Any) -> CheckpointRef:
        """Register the checkpoint and close the run, in one transaction: a crash leaves a
        registered checkpoint or a resumable run, never neither."""
        self.close_tracker()
        with self.store.write() as con:
            ref = register_checkpoint(con, self.store, run_id=self.run_id, **checkpoint)
            con.execute(
                "UPDATE runs SET status = 'done', finished_at = now() WHERE id = ?",
                [self.run_id],
            )
        return ref


def trained_checkpoints(store: Store) -> list[str]:
    """Checkpoints whose run logged metrics, oldest first (what a training curve can show)."""
    rows = store.query(
        """SELECT DISTINCT c.name, c.created_at FROM checkpoints c
           JOIN train_metrics m ON m.run_id = c.run_id ORDER BY c.created_at"""
    )
    return [r["name"] for r in rows]

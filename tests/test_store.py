import multiprocessing as mp

import pytest

from workbench.errors import WorkbenchError
from workbench.schema import MIGRATIONS
from workbench.store import Store

WRITERS, TRANSACTIONS, ROWS = 4, 30, 5


def _writer(home: str, writer: int) -> None:
    store = Store(home)
    for t in range(TRANSACTIONS):
        rows = [
            {
                "video_id": f"w{writer}-t{t}-r{r}",
                "judge": "j",
                "judge_version": "1",
                "dimension": "d",
                "value": float(r),
            }
            for r in range(ROWS)
        ]
        store.insert("scores", rows)


def _reader(home: str, counts) -> None:
    store = Store(home)
    for _ in range(40):
        counts.append(store.query("SELECT count(*) AS n FROM scores")[0]["n"])


def test_concurrent_writers_and_readers_lose_nothing(tmp_path):
    home = str(tmp_path / "home")
    Store(home)
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        counts = manager.list()
        procs = [ctx.Process(target=_writer, args=(home, w)) for w in range(WRITERS)]
        procs.append(ctx.Process(target=_reader, args=(home, counts)))
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        assert [p.exitcode for p in procs] == [0] * len(procs)
        seen = list(counts)
    rows = Store(home).query("SELECT video_id FROM scores")
    expected = {
        f"w{w}-t{t}-r{r}" for w in range(WRITERS) for t in range(TRANSACTIONS) for r in range(ROWS)
    }
    assert len(rows) == len(expected) and {r["video_id"] for r in rows} == expected
    # Readers only ever see whole transactions.
    assert all(n % ROWS == 0 for n in seen) and seen == sorted(seen)


def test_failed_transaction_leaves_no_rows(store):
    with pytest.raises(RuntimeError), store.write() as con:
        con.execute("INSERT INTO votes VALUES ('v1', 'ann', 'a', 'b', 'vq', 'good', now(), 'b1')")
        raise RuntimeError("boom")
    assert store.query("SELECT count(*) AS n FROM votes")[0]["n"] == 0


def test_schema_is_versioned_and_migrations_are_idempotent(home):
    Store(home)
    store = Store(home)
    versions = store.query("SELECT version FROM schema_version ORDER BY version")
    assert [v["version"] for v in versions] == list(range(1, len(MIGRATIONS) + 1))


def test_busy_store_times_out_with_a_clear_error(home):
    import fcntl

    store = Store(home, timeout=0.2)
    with open(home / "store.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(WorkbenchError, match="busy"):
            store.query("SELECT 1")

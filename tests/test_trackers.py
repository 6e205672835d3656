"""`workbench train --report-to tensorboard` sends TensorBoard exactly the metrics the store
keeps (every row, every step, with the run's config); a tracker whose package is missing is
refused in one line before any work, and nothing is recorded."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from workbench.cli import main
from workbench.store import Store


def test_tensorboard_gets_the_stores_metrics(home, capsys):
    assert main(["world", "make", "--n", "8"]) == 0
    args = ["train", "--name", "base", "--steps", "4", "--batch-size", "4", "--log-every", "2"]
    assert main([*args, "--report-to", "tensorboard"]) == 0
    rows = Store(home).query(
        "SELECT step, name, value FROM train_metrics m JOIN runs r ON r.id = m.run_id "
        "WHERE r.config->>'name' = 'base'"
    )
    events = EventAccumulator(str(home / "logs" / "tensorboard" / "base"))
    events.Reload()
    logged = {
        (e.step, tag): e.value for tag in events.Tags()["scalars"] for e in events.Scalars(tag)
    }
    assert len(logged) == len(rows) and {r["step"] for r in rows} == {1, 2, 3, 4}
    for r in rows:  # TensorBoard keeps float32
        assert logged[r["step"], r["name"]] == pytest.approx(r["value"], rel=1e-6, abs=1e-30)
    assert "config/text_summary" in events.Tags()["tensors"]


def test_a_missing_tracker_is_refused_before_any_work(home, capsys):
    pytest.importorskip("tensorboard")
    try:
        import wandb  # noqa: F401

        pytest.skip("wandb is installed here")
    except ImportError:
        pass
    assert main(["world", "make", "--n", "4"]) == 0
    runs = len(Store(home).query("SELECT id FROM runs"))
    assert main(["train", "--name", "x", "--steps", "1", "--report-to", "wandb"]) == 1
    err = capsys.readouterr().err
    assert "needs the wandb package (pip install wandb)" in err
    assert len(Store(home).query("SELECT id FROM runs")) == runs

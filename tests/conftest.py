import os

os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    GRADIO_ANALYTICS_ENABLED="False",
    TRANSFORMERS_OFFLINE="1",
)

import pytest  # noqa: E402

from workbench.store import Store  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh workbench home, also the default for CLI calls in the test."""
    path = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(path))
    return path


@pytest.fixture
def store(home):
    return Store(home)


# What `make test-fast` leaves out (pytest -m "not slow"): whole modules that start several
# processes, kill and resume runs or train to a result, and single tests of a minute or so.
# `make test` (CI) runs everything.
SLOW_MODULES = {
    "test_kill.py",
    "test_load.py",
    "test_parallel.py",
    "test_experiment.py",
    "test_bench.py",
    "test_crash_safety.py",
    "test_export.py",
    "test_pair_sources.py",
    "test_trackers.py",
}
SLOW_TESTS = {
    "test_embedded_base_keeps_the_prompted_colour",
    "test_a_shipped_base_loads_and_reads_the_prompt_as_its_study_needs",
    "test_compiled_blocks_train_to_the_eager_weights",
    "test_resume_after_sigkill_gives_identical_weights",
    "test_gtpair_dpo_and_regdpo_end_to_end",
    "test_bad_input_gives_one_line_and_changes_nothing[huge resolution]",
    "test_eval_and_judge_mined_pairs_use_videoreward_through_the_cli",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in SLOW_MODULES or {item.originalname, item.name} & SLOW_TESTS:
            item.add_marker(pytest.mark.slow)

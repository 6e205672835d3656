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

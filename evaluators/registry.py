"""The judge registry: names to factories. Duplicate names raise; unknown names suggest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evaluators.base import Judge
from workbench.errors import unknown_name

JudgeFactory = Callable[[Path | None], Judge]  # weights folder -> judge
_REGISTRY: dict[str, JudgeFactory] = {}


def register(name: str) -> Callable[[JudgeFactory], JudgeFactory]:
    def add(factory: JudgeFactory) -> JudgeFactory:
        if name in _REGISTRY:
            raise ValueError(f"judge {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return add


def judge_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_judge(name: str, weights: Path | None = None) -> Judge:
    """Raises WorkbenchError for an unknown name."""
    _load_builtin()
    if name not in _REGISTRY:
        raise unknown_name("judge", name, _REGISTRY)
    return _REGISTRY[name](weights)


def _load_builtin() -> None:
    # Importing the modules registers their judges.
    import evaluators.clip_judges  # noqa: F401
    import evaluators.shapes_judges  # noqa: F401
    import evaluators.technical  # noqa: F401
    import evaluators.vbench  # noqa: F401
    import evaluators.vbench_models  # noqa: F401

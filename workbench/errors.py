"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WorkbenchError(Exception):
    """Bad input, a missing file or name, a busy store: the message alone tells the user why."""


def unknown_name(kind: str, name: str, known: Iterable[str]) -> WorkbenchError:
    """An error for a name that is not registered, suggesting the nearest known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    listing = f" (known: {', '.join(known[:20])})" if known else f" (no {kind}s registered yet)"
    return WorkbenchError(f"unknown {kind} {name!r}{hint}{listing}")

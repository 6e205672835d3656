"""Printing results: a plain table for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from workbench.launch import is_main


def emit(args, payload: Any, rows: Sequence[dict[str, Any]] | None = None) -> None:
    """Print `payload` as JSON with --json, else `rows` (default: payload) as a table; under
    torchrun, once (rank 0)."""
    if not is_main():
        return
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
        return
    rows = payload if rows is None else rows
    if isinstance(rows, dict):
        rows = [rows]
    print(table(rows))


def table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "(none)"
    columns = list(rows[0])
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)

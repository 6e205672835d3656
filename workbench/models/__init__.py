"""Video models behind one adapter: prompts in, velocities and videos out."""

from pathlib import Path

_EMBEDDED = Path(__file__).resolve().parent / "embedded"
EMBEDDED_BASES = {"tiny": _EMBEDDED / "base", "tiny-early": _EMBEDDED / "base-early"}
"""The shipped shapes-world bases, by the study preset whose base recipe made each (see the
REPRODUCE.json beside the weights)."""

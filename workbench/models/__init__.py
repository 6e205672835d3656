"""Video models behind one adapter: prompts in, velocities and videos out."""

from pathlib import Path

EMBEDDED_BASE = Path(__file__).resolve().parent / "embedded" / "base"
"""The shipped shapes-world base (see its REPRODUCE.json)."""

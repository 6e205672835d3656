"""`python app.py`: the workbench's app (Compare, Vote, Annotate, Leaderboard, Training,
Agreement) on a home folder. The UI lives in workbench/app/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for key, value in (
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("GRADIO_ANALYTICS_ENABLED", "False"),
):
    os.environ.setdefault(key, value)


def main(argv: list[str] | None = None) -> int:
    from workbench.store import default_home

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=None, help=f"default {default_home()}")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default local only)")
    parser.add_argument("--port", type=int, default=None, help="default 7860 or the next free")
    parser.add_argument(
        "--auth",
        type=Path,
        default=None,
        help="file of user:password lines (user:password:annotator: sees the battles only)",
    )
    parser.add_argument("--share", action="store_true", help="public Gradio link (needs internet)")
    parser.add_argument(
        "--study",
        default="tiny-early",
        choices=("tiny-early", "tiny", "smoke", "none"),
        help="on an empty home, run the paper's study with this preset in the "
        "background (none: never)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="seeds the study goes on to while the app is open (one after "
        "another; the first is shown as soon as it is judged)",
    )
    args = parser.parse_args(argv)

    from workbench.allocator import keep_freed_memory
    from workbench.app import launch
    from workbench.app.access import read_auth

    keep_freed_memory()

    try:
        auth, access = read_auth(args.auth) if args.auth else (None, None)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    launch(
        args.home or default_home(),
        args.host,
        args.port,
        auth,
        args.share,
        study=args.study,
        access=access,
        seeds=args.seeds,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

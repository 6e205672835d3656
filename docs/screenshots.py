"""Screenshots of every tab of the app on a home (the PNGs linked from the README).

    python docs/screenshots.py --home workbench-data/demo --out docs/

Drives Debian's Chromium through Playwright (`apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TABS = ("Compare", "Vote", "Annotate", "Leaderboard", "Training", "Agreement")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    from workbench.app import launch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--port", type=int, default=7911)
    args = parser.parse_args()
    app = launch(args.home, port=args.port, block=False, seed=0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.wait_for_timeout(3000)
            for name in TABS:
                page.get_by_role("tab", name=name).click()
                tab = page.locator(f"#{name.lower()}-tab")
                if name in ("Vote", "Annotate"):
                    tab.get_by_label("your name (signs your votes)").fill("screenshot")
                    tab.get_by_role(
                        "button", name="new battle" if name == "Vote" else "new pair"
                    ).click()
                page.wait_for_timeout(1000)
                page.wait_for_function(
                    "() => !document.body.innerText.includes('processing |')", timeout=60000
                )
                page.wait_for_timeout(1500)
                page.screenshot(path=str(args.out / f"app-{name.lower()}.png"), full_page=True)
            browser.close()
    finally:
        app.close()
    annotator_view(args)


def annotator_view(args: argparse.Namespace) -> None:
    """What an annotator logged in under --auth sees: the battles only."""
    from playwright.sync_api import sync_playwright

    from workbench.app import launch
    from workbench.app.access import Access

    port = args.port + 1
    app = launch(
        args.home,
        port=port,
        block=False,
        seed=0,
        auth=[("annotator", "pw")],
        access=Access(frozenset({"annotator"})),
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_label("username").fill("annotator")
            page.get_by_label("password").fill("pw")
            page.get_by_role("button", name="Login").click()
            page.wait_for_function("document.body.classList.contains('wb-annotator')")
            page.locator("#vote-tab").get_by_role("button", name="new battle").click()
            page.locator("#vote-tab video").first.wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out / "app-annotator.png"), full_page=True)
            browser.close()
    finally:
        app.close()


if __name__ == "__main__":
    main()

"""The app, driven through its API with gradio_client like a browser would: `python app.py`
on a temporary home, every action and the rows it writes, refusals that store nothing, and
votes that survive the app being killed."""

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, start_app

from workbench.cli import main
from workbench.store import Store


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A home with a world, a tiny base and its scored test videos, served by app.py."""
    home = tmp_path_factory.mktemp("app") / "home"
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        assert main(["world", "make", "--n", "12"]) == 0
        assert main(["train", "--name", "base", "--steps", "2", "--batch-size", "2"]) == 0
        assert (
            main(
                [
                    "eval",
                    "--ckpt",
                    "gt",
                    "--ckpt",
                    "base",
                    "--n",
                    "3",
                    "--judges",
                    "shapes-pf,shapes-vq",
                ]
            )
            == 0
        )
    finally:
        del os.environ["WORKBENCH_HOME"]
    proc, url, client = start_app(home)
    yield {"home": home, "url": url, "client": client, "proc": proc, "store": Store(home)}
    proc.kill()


def _format(path: Path) -> tuple:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return (
            container.format.name,
            stream.codec_context.name,
            stream.width,
            stream.height,
            float(stream.average_rate),
            stream.frames,
        )


def _votes(store):
    return store.query("SELECT * FROM votes ORDER BY created_at")


def test_a_blind_battle_is_served_voted_and_revealed(app):
    client, store = app["client"], app["store"]
    shown, battle_id, status, *_ = client.predict(
        "alice", "shapes", "test", ["gt", "base"], api_name="/next_battle"
    )
    battle = store.query("SELECT * FROM battles WHERE id = ?", [battle_id])[0]
    assert battle["annotator"] == "alice" and {battle["source_a"], battle["source_b"]} == {
        "gt",
        "base",
    }
    # Nothing in the page names a source: neutral per-battle file names only.
    assert "base" not in shown.replace(battle_id, "") and "gt" not in shown
    assert f"media/battles/{battle_id}/a.mp4" in shown and f"/{battle_id}/b.mp4" in shown
    # Same container, size, frame rate and length on both sides: nothing tells them apart.
    formats = [
        _format(app["home"] / "media" / "battles" / battle_id / f"{side}.mp4") for side in "ab"
    ]
    assert formats[0] == formats[1]
    status, reveal = client.predict(
        "alice", battle_id, "A is better", "both bad", api_name="/vote_battle"
    )
    assert status == "Vote stored."
    assert reveal == f"A was **{battle['source_a']}**, B was **{battle['source_b']}**."
    rows = [v for v in _votes(store) if v["battle_id"] == battle_id]
    assert {(v["aspect"], v["outcome"], v["annotator"]) for v in rows} == {
        ("vq", "good", "alice"),
        ("pf", "both_bad", "alice"),
    }
    assert {(v["video_a"], v["video_b"]) for v in rows} == {(battle["video_a"], battle["video_b"])}


def test_forged_stale_foreign_and_incomplete_votes_are_refused_and_store_nothing(app):
    from gradio_client import Client

    client, store = app["client"], app["store"]
    _, battle_id, *_ = client.predict(
        "alice", "shapes", "test", ["gt", "base"], api_name="/next_battle"
    )
    before = _votes(store)
    refusals = {
        "served in this session": ("alice", "0123456789abcdef", "same", "same"),  # forged id
        "answer both": ("alice", battle_id, "same", None),  # PF missing
        "not served to you": ("mallory", battle_id, "same", "same"),  # someone else's
    }
    for expected, args in refusals.items():
        status, reveal = client.predict(*args, api_name="/vote_battle")
        assert expected in status and reveal == "", (expected, status)
    other_session = Client(app["url"], verbose=False)
    status, _ = other_session.predict("alice", battle_id, "same", "same", api_name="/vote_battle")
    assert "not served in this session" in status
    assert _votes(store) == before, "no refused vote is stored"
    assert client.predict("alice", battle_id, "same", "same", api_name="/vote_battle")[0] == (
        "Vote stored."
    )
    stale = client.predict("alice", battle_id, "B is better", "same", api_name="/vote_battle")
    assert "already voted" in stale[0]
    assert len(_votes(store)) == len(before) + 2


def test_hostile_names_are_refused_and_quotes_are_only_text(app):
    client, store = app["client"], app["store"]
    before = _votes(store)
    for name in ["<script>alert(1)</script>", "x" * 65, "eve\x00", "a; DROP TABLE votes"]:
        _, battle_id, status, *_ = client.predict(
            name, "shapes", "test", ["gt", "base"], api_name="/next_battle"
        )
        assert "a name is 1-64 letters" in status, name
        assert not store.query("SELECT 1 FROM battles WHERE annotator = ?", [name])
    name = "O'Brien' --"  # quotes and comment marks reach SQL as data only
    _, battle_id, *_ = client.predict(
        name, "shapes", "test", ["gt", "base"], api_name="/next_battle"
    )
    status, _ = client.predict(name, battle_id, "same", "same", api_name="/vote_battle")
    assert status == "Vote stored."
    assert len(_votes(store)) == len(before) + 2 and _votes(store)[-1]["annotator"] == name


def test_annotated_pairs_become_a_pair_set_and_a_csv(app):
    client, store = app["client"], app["store"]
    shown, battle_id, *_ = client.predict(
        "carol", "shapes", "test", "base", api_name="/next_annotate"
    )
    battle = store.query("SELECT * FROM battles WHERE id = ?", [battle_id])[0]
    assert battle["kind"] == "rollouts" and battle["video_a"] != battle["video_b"]
    assert battle["source_a"].startswith("base (seed") and "seed" not in shown
    client.predict("carol", battle_id, "A is better", "A is better", api_name="/vote_annotate")
    # One person's VQ and PF answers are one annotator, not two agreeing votes.
    assert "no pair of rollouts has 2 annotator(s)" in client.predict(
        "annotated", 2, "both", api_name="/build_pairs"
    )
    message = client.predict("annotated", 1, "both", api_name="/build_pairs")
    assert "Pair set **annotated**" in message
    pairs = store.query("SELECT * FROM pairs WHERE pairset = 'annotated'")
    assert (battle["video_a"], battle["video_b"]) in {
        (p["winner_video"], p["loser_video"]) for p in pairs
    }
    assert all(p["kind"] == "annotated" for p in pairs)
    rollout_videos = {
        v
        for b in store.query("SELECT * FROM battles WHERE kind = 'rollouts'")
        for v in (b["video_a"], b["video_b"])
    }
    assert {p["winner_video"] for p in pairs} <= rollout_videos, "never from Vote-tab battles"
    assert "exists" in client.predict("annotated", 1, "both", api_name="/build_pairs")
    exported = client.predict(api_name="/export_votes")
    assert not Path(exported).resolve().is_relative_to(app["home"].resolve()), "never served"
    with open(exported) as fh:
        rows = list(csv.DictReader(fh))
    assert {
        "battle",
        "kind",
        "prompt",
        "video_a",
        "video_b",
        "source_a",
        "source_b",
        "vq",
        "pf",
        "annotator",
        "time",
    } <= set(rows[0])
    assert {r["kind"] for r in rows} == {"checkpoints", "rollouts"}
    carol = next(r for r in rows if r["annotator"] == "carol")
    assert carol["battle"] == battle_id and carol["source_a"] == battle["source_a"]
    assert {"carol", "alice"} <= {r["annotator"] for r in rows}
    assert {r["vq"] for r in rows} <= {"A", "B", "same", "both_bad"}


def test_votes_leave_through_the_command_line(app, tmp_path, capsys):
    home = str(app["home"])
    out = tmp_path / "votes.csv"
    assert main(["--home", home, "--json", "votes", "export", "--out", str(out)]) == 0
    with open(out) as fh:
        assert len(list(csv.DictReader(fh))) == json.loads(capsys.readouterr().out)["rows"] > 0
    assert main(["--home", home, "pairs", "from-votes", "--name", "cli", "--min-agree", "1"]) == 0
    assert app["store"].query("SELECT count(*) AS n FROM pairs WHERE pairset = 'cli'")[0]["n"]
    capsys.readouterr()
    assert main(["--home", home, "pairs", "from-votes", "--name", "x", "--min-agree", "99"]) == 1
    assert "no pair of rollouts has 99 annotator(s) agreeing on both" in capsys.readouterr().err


def test_leaderboard_agreement_training_and_compare_answer(app):
    client, store = app["client"], app["store"]
    (
        _,
        human,
        with_ties,
        without_ties,
        heat,
        automatic,
        vbench,
        trained_on,
        seeds,
        _,
        glance,
        splits,
    ) = client.predict("vq", "shapes", "test", "gt", api_name="/leaderboard")
    assert human["data"][0][0] == "base vs gt", "rows read X vs the chosen reference"
    assert [row[0] for row in glance["data"]] == ["base", "gt"]
    assert glance["headers"][:4] == ["source", "VQ", "PF", "VQ win rate vs gt"]
    assert glance["data"][1][3] == "-" and glance["data"][0][3].count("(") == 1
    assert {row[1] for row in with_ties["data"]} == {"base", "gt"}
    assert automatic["data"][0][1] in ("VQ", "PF")
    assert trained_on["headers"] == seeds["headers"] == ["(no data yet)"], "no fine-tunes here"
    # Held-out attribute combinations stay rows of their own, as in the report.
    assert {row[0] for row in splits["data"]} == {"base", "gt"}
    assert {row[1].split(" (")[0] for row in splits["data"]} <= {
        "in-distribution",
        "held-out combinations",
    }
    gt_pair, judges, people = client.predict(api_name="/agreement")
    assert judges["headers"][:2] == ["aspect", "judge"]
    _, plot = client.predict(["base"], ["loss"], api_name="/training")
    assert plot is not None
    *_, body = client.predict(None, [], api_name="/compare_refresh")
    sample = store.query("SELECT id FROM samples WHERE split = 'test' ORDER BY idx")[0]["id"]
    html = client.predict(
        "shapes", "test", sample, ["gt", "base"], "side by side", api_name="/compare_show"
    )
    assert html.count("<video") == 2 and html.count("wb-sync") == 2 and "first frame" in html
    assert "PF 1.000" in html, "judge scores beside the ground truth"


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own download is offline
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (.ci/run installs it)",
)
def test_in_a_real_browser_the_videos_play_and_a_vote_lands(app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60000)  # a slow shared machine must not fail the check
        page.goto(app["url"])
        page.get_by_role("tab", name="Vote").click()
        tab = page.locator("#vote-tab")
        tab.get_by_label("your name (signs your votes)").fill("erin")
        tab.get_by_role("button", name="new battle").click()
        videos = tab.locator("video.wb-sync")
        videos.first.wait_for()
        assert videos.count() == 2
        tab.get_by_role("button", name="play all").click()
        page.wait_for_function(
            """() => [...document.querySelectorAll('#vote-tab video.wb-sync')]
                   .every(v => !v.paused && v.currentTime > 0 && v.readyState >= 2)""",
            timeout=60000,
        )
        tab.locator("fieldset", has_text="visual quality").get_by_label("A is better").check()
        tab.locator("fieldset", has_text="prompt following").get_by_label("same").check()
        tab.get_by_role("button", name="submit vote").click()
        tab.get_by_text("Vote stored.").wait_for(timeout=60000)
        # The grid's play all drives every row; the Vote tab's videos are not its group.
        tab.get_by_role("button", name="pause all").click()
        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-tab").get_by_label("grid").check()
        grid = page.locator("video.wb-sync[data-group='grid']")
        grid.nth(3).wait_for()
        page.locator("#compare-tab").get_by_role("button", name="play all").click()
        page.wait_for_function(
            """() => [...document.querySelectorAll("video.wb-sync[data-group='grid']")]
                   .every(v => !v.paused && v.currentTime > 0)""",
            timeout=60000,
        )
        assert page.evaluate("""() => [...document.querySelectorAll('#vote-tab video')]
                                .every(v => v.paused)""")
        browser.close()
    erin = [v for v in _votes(app["store"]) if v["annotator"] == "erin"]
    assert {(v["aspect"], v["outcome"]) for v in erin} == {("vq", "good"), ("pf", "same")}


def test_compare_lists_prompts_with_videos_and_finds_words(app):
    from workbench.app.compare import matching_samples, with_videos

    store = app["store"]
    train = matching_samples(store, "shapes", "train", "", {})
    assert with_videos(store, "shapes", "train", train, ["gt"]) == train
    assert with_videos(store, "shapes", "train", train, ["gt", "base"]) == [], "base: test only"
    evaluated = with_videos(
        store, "shapes", "test", matching_samples(store, "shapes", "test", "", {}), ["gt", "base"]
    )
    assert len(evaluated) == 3
    prompt = evaluated[0]["prompt"]
    words = prompt.split()
    query = f"{words[-1]} {words[1][:3]}"  # two words out of order, one cut short
    assert prompt in {s["prompt"] for s in matching_samples(store, "shapes", "test", query, {})}
    assert not matching_samples(store, "shapes", "test", f"{words[1]}zzz", {})


def test_bad_requests_are_refused_in_one_line_and_change_nothing(app):
    from helpers import snapshot

    client, store = app["client"], app["store"]
    before = snapshot(store)
    for dataset, sources in (
        ("shapes", ["gt", "nope"]),
        ("no-such-dataset", ["gt", "base"]),
        ("shapes", ["base"]),
    ):
        _, _, status, *_ = client.predict("zoe", dataset, "test", sources, api_name="/next_battle")
        assert status and "Traceback" not in status and "\n" not in status.strip(), status
    html = client.predict(
        "shapes", "test", "no-such-sample", ["gt", "base"], "side by side", api_name="/compare_show"
    )
    assert "Traceback" not in html and "<video" not in html
    status, _ = client.predict("zoe", "../../etc/passwd", "same", "same", api_name="/vote_battle")
    assert "not served in this session" in status
    assert snapshot(store) == before


def test_only_the_media_folder_is_served(app):
    import urllib.error
    import urllib.request

    media_file = next((app["home"] / "media" / "videos").rglob("*.mp4"))
    with urllib.request.urlopen(f"{app['url']}gradio_api/file={media_file}") as response:
        assert response.status == 200
    for path in (
        app["home"] / "workbench.duckdb",
        app["home"] / "media" / ".." / "store.lock",
        Path("/etc/passwd"),
    ):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{app['url']}gradio_api/file={path}")
        assert refused.value.code in (403, 404), path


def test_battle_files_carry_nothing_of_their_source(app):
    """Not the inode, not the times: a battle's files are fresh copies with one neutral
    Last-Modified, though the sources' own files were written at different times."""
    import urllib.request

    from workbench.app.common import file_url

    client, store = app["client"], app["store"]
    _, battle_id, *_ = client.predict(
        "erin", "shapes", "test", ["gt", "base"], api_name="/next_battle"
    )
    battle = store.query("SELECT * FROM battles WHERE id = ?", [battle_id])[0]
    sources = store.video_paths([battle["video_a"], battle["video_b"]])

    def headers(path):
        with urllib.request.urlopen(app["url"] + file_url(path).lstrip("/")) as response:
            return response.headers

    served = {}
    for side, video in (("a", battle["video_a"]), ("b", battle["video_b"])):
        path = app["home"] / "media" / "battles" / battle_id / f"{side}.mp4"
        assert path.read_bytes() == sources[video].read_bytes()
        assert path.stat().st_nlink == 1 and path.stat().st_ino != sources[video].stat().st_ino
        served[side] = headers(path)
    assert (
        served["a"]["Last-Modified"]
        == served["b"]["Last-Modified"]
        == ("Sat, 01 Jan 2000 00:00:00 GMT")
    )
    assert "2000" not in headers(sources[battle["video_a"]])["Last-Modified"]


@pytest.fixture(scope="module")
def roles_app(app, tmp_path_factory):
    """The same home under --auth: frank is a researcher, ann an annotator."""
    users = tmp_path_factory.mktemp("auth") / "users.txt"
    users.write_text("# researchers, then annotators\nfrank:secret\nann:pw:annotator\n")
    proc, url, client = start_app(app["home"], "--auth", str(users), auth=("frank", "secret"))
    yield {"url": url, "client": client}
    proc.kill()


def test_with_auth_the_login_signs_the_votes(app, roles_app):
    from gradio_client import Client

    for user, password in (("frank", "secret"), ("ann", "pw")):
        client = Client(roles_app["url"], auth=(user, password), verbose=False)
        _, battle_id, *_ = client.predict(
            "", "shapes", "test", ["gt", "base"], api_name="/next_battle"
        )
        assert client.predict("", battle_id, "same", "same", api_name="/vote_battle")[0] == (
            "Vote stored."
        )
        assert {v["annotator"] for v in _votes(app["store"]) if v["battle_id"] == battle_id} == {
            user
        }


def test_annotators_see_the_battles_only(app, roles_app):
    """Through the HTTP API: every researcher endpoint refuses an annotator (and serves frank)."""
    from gradio_client import Client

    ann = Client(roles_app["url"], auth=("ann", "pw"), verbose=False)
    refusal = "annotators see the Vote and Annotate battles only"
    html = ann.predict(
        "shapes", "test", None, ["gt", "base"], "side by side", api_name="/compare_show"
    )
    assert refusal in html and "<video" not in html
    assert refusal in str(ann.predict("vq", "shapes", "test", "base", api_name="/leaderboard")[1])
    assert refusal in ann.predict("ann-set", 1, "both", api_name="/build_pairs")
    assert ann.predict(api_name="/export_votes") is None
    assert refusal not in str(
        roles_app["client"].predict("vq", "shapes", "test", "base", api_name="/leaderboard")[1]
    )


@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (.ci/run installs it)",
)
def test_an_annotator_logs_in_to_the_battle_tabs(roles_app):
    from playwright.sync_api import sync_playwright

    tabs = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for user, password in (("ann", "pw"), ("frank", "secret")):
            page = browser.new_page()
            page.set_default_timeout(60000)
            page.goto(roles_app["url"])
            page.get_by_label("username").fill(user)
            page.get_by_label("password").fill(password)
            page.get_by_role("button", name="Login").click()
            page.wait_for_function("document.body.classList.contains('wb-logged-in')")
            tabs[user] = [
                t.inner_text().strip() for t in page.get_by_role("tab").all() if t.is_visible()
            ]
            assert page.get_by_role("tab", name="Vote").get_attribute("aria-selected") == (
                "true" if user == "ann" else "false"
            )
            assert not page.get_by_label("your name (signs your votes)").first.is_visible()
            page.get_by_role("tab", name="Annotate").click()
            pair_set = page.get_by_role("button", name="build pair set")
            assert pair_set.is_visible() == (user == "frank"), user
        browser.close()
    assert tabs["ann"] == ["Vote", "Annotate"], tabs
    assert tabs["frank"][:3] == ["Compare", "Vote", "Annotate"] and len(tabs["frank"]) == 6, tabs


def test_acknowledged_votes_survive_the_app_being_killed(app):
    client = app["client"]
    _, battle_id, *_ = client.predict(
        "dave", "shapes", "test", ["gt", "base"], api_name="/next_battle"
    )
    assert client.predict("dave", battle_id, "same", "same", api_name="/vote_battle")[0] == (
        "Vote stored."
    )
    app["proc"].send_signal(signal.SIGKILL)
    app["proc"].wait(timeout=10)
    assert {v["aspect"] for v in _votes(Store(app["home"])) if v["annotator"] == "dave"} == {
        "vq",
        "pf",
    }


def test_an_empty_home_says_what_to_run_and_a_bad_auth_file_is_one_line(tmp_path, capsys):
    from workbench.app.common import empty_home_hint

    assert "workbench world make" in empty_home_hint(Store(tmp_path / "empty"))
    bad = tmp_path / "users.txt"
    bad.write_text("alice\n")
    command = [sys.executable, str(ROOT / "app.py"), "--home", str(tmp_path), "--auth", str(bad)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {bad}: lines must be user:password[:annotator], got 'alice'"
    )

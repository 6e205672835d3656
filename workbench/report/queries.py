"""What the report reads from the store: each source's newest scores per sample (only each
judge's newest version), the held-out samples, what each fine-tune was trained on, its
training metrics and the runs that made it."""

from __future__ import annotations

import json
from typing import Any

from workbench.provenance import made_by
from workbench.sources import source_video_sql
from workbench.store import Store

# The newest version of each judge: the version of its most recent score.
NEWEST_VERSIONS = """WITH newest AS (
    SELECT judge, arg_max(judge_version, created_at) AS judge_version FROM scores GROUP BY judge)"""


def checkpoint_scores(
    store: Store, dataset: str, split: str, ckpt: str, guidance: float | None = None
) -> dict[str, dict]:
    """sample_id -> {(judge, dimension): value} for a checkpoint's newest video per sample
    (sampled with `guidance` when given).

    Only each judge's newest version counts (the version of its most recent score), so a
    judge fixed since some videos were scored never mixes old and new numbers.
    """
    video_of, extra = source_video_sql(ckpt, guidance)
    params = [dataset, split, *extra]
    rows = store.query(
        f"""{NEWEST_VERSIONS}
            SELECT v.sample_id, s.judge, s.dimension, avg(s.value) AS value
            FROM ({video_of}) v JOIN scores s ON s.video_id = v.video_id
            JOIN newest n ON n.judge = s.judge AND n.judge_version = s.judge_version
            WHERE s.value IS NOT NULL GROUP BY ALL""",
        params,
    )
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["sample_id"], {})[(r["judge"], r["dimension"])] = r["value"]
    return out


def newest_scores(store: Store, video_ids: list[str]) -> dict[str, dict[tuple[str, str], float]]:
    """video_id -> {(judge, dimension): value}, newest version of each judge only."""
    rows = store.query(
        f"""{NEWEST_VERSIONS}
            SELECT s.video_id, s.judge, s.dimension, avg(s.value) AS value FROM scores s
            JOIN newest n ON n.judge = s.judge AND n.judge_version = s.judge_version
            WHERE list_contains(?, s.video_id) AND s.value IS NOT NULL GROUP BY ALL""",
        [list(video_ids)],
    )
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["video_id"], {})[(r["judge"], r["dimension"])] = r["value"]
    return out


def heldout_samples(store: Store, dataset: str) -> dict[str, bool]:
    """sample -> whether its attribute combination was held out of training (shapes world)."""
    rows = store.query(
        "SELECT id, attributes->>'heldout' AS heldout FROM samples WHERE dataset = ?", [dataset]
    )
    return {r["id"]: r["heldout"] == "true" for r in rows if r["heldout"] is not None}


def trained_on(store: Store, names: list[str]) -> list[dict[str, str]]:
    """The preference fine-tunes among `names`: name, method and their pair set in words."""
    rows = store.query(
        "SELECT name, method, config->>'pairs' AS pairset FROM checkpoints "
        "WHERE list_contains(?, name) AND config->>'pairs' IS NOT NULL ORDER BY name",
        [list(names)],
    )
    return [
        {
            "name": r["name"],
            "method": r["method"],
            "pairs": pairset_label(store, r["pairset"]),
            "cost per pair": pairset_cost(store, r["pairset"]),
        }
        for r in rows
    ]


def pairset_cost(store: Store, pairset: str) -> str:
    """What one pair of the set cost to make, in rollouts (a partial one counts its share of
    the sampler's steps), judge calls and votes: what a source's gain is weighed against."""
    rows = store.query(
        "SELECT kind, provenance FROM pairs WHERE pairset = ? ORDER BY id LIMIT 1", [pairset]
    )
    if not rows:
        return "?"
    kind, prov = rows[0]["kind"], json.loads(rows[0]["provenance"] or "{}")
    if kind == "gt":
        return "1 rollout"
    if kind in ("denoised", "corrupted"):
        return f"{prov.get('strength')} rollout"
    if kind == "mined":
        n = prov.get("per_sample")
        return f"{n} rollouts + {n * len(prov.get('judges', []))} judge calls"
    if prov.get("annotator") == "simulated":
        return "2 rollouts + 1 simulated vote"
    votes = prov.get("annotators_for", 0) + prov.get("annotators_against", 0)
    return f"2 rollouts + {votes} votes"


def pairset_label(store: Store, pairset: str) -> str:
    """What a pair set is, in words: GT-Pairs, human-annotated, or SIMULATED annotation."""
    rows = store.query(
        "SELECT kind, any_value(provenance) AS provenance, count(*) AS n FROM pairs "
        "WHERE pairset = ? GROUP BY kind",
        [pairset],
    )
    if not rows:
        return "unknown (no such pair set)"
    kind, n = rows[0]["kind"], sum(r["n"] for r in rows)
    prov = json.loads(rows[0]["provenance"] or "{}")
    if kind == "gt":
        return f"GT-Pairs: real video beats a {prov.get('generator', '?')} rollout ({n} pairs)"
    if kind == "denoised":
        return (
            f"denoised-from-real: real video beats {prov.get('generator', '?')}'s denoising of "
            f"it from strength {prov.get('strength')} ({n} pairs)"
        )
    if kind == "corrupted":
        return (
            f"locally corrupted: real video beats itself with the {prov.get('region')} made "
            f"anew by {prov.get('generator', '?')} in {prov.get('span')} of its frames "
            f"({n} pairs)"
        )
    if kind == "mined":
        judges = " + ".join(prov.get("judges", []))
        return (
            f"judge-mined: best over worst of {prov.get('per_sample')} "
            f"{prov.get('generator', '?')} rollouts by {judges}, gap >= {prov.get('gap')} "
            f"({n} pairs)"
        )
    if prov.get("annotator") == "simulated":
        judges = " + ".join(prov.get("judges", []))
        return (
            f"annotated by a SIMULATED annotator ({judges}, noise {prov.get('noise')}) "
            f"over {prov.get('generator', '?')} rollouts ({n} pairs)"
        )
    return f"annotated from human votes ({n} pairs)"


def training_metrics(store: Store, ckpts: list[str], metrics: list[str]) -> list[dict]:
    """(checkpoint name, step, metric, value) of the training runs that made `ckpts`."""
    return store.query(
        """SELECT c.name, m.step, m.name AS metric, m.value FROM checkpoints c
           JOIN train_metrics m ON m.run_id = c.run_id
           WHERE list_contains(?, c.name) AND list_contains(?, m.name) ORDER BY m.step""",
        [list(ckpts), list(metrics)],
    )


def provenance(store: Store, ckpts: list[str], command: str) -> dict[str, Any]:
    """What made a report: the command, this code's version, the date and the machine, and
    per checkpoint the seed and code version of the run that trained it (a number in a
    report can then be traced to the code that made it)."""
    marks = ", ".join("?" for _ in ckpts)
    runs = store.query(
        f"""SELECT c.name, r.seed, r.code_version FROM checkpoints c
            LEFT JOIN runs r ON r.id = c.run_id WHERE c.name IN ({marks})""",
        ckpts,
    )
    return {
        **made_by(command),
        "checkpoints": {
            r["name"]: {"seed": r["seed"], "code_version": r["code_version"]} for r in runs
        },
    }

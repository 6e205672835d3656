"""Which video stands for a source on each sample: 'gt' is the dataset's own clip, any other
source (a checkpoint, or imported videos) its newest generation for the sample.

One definition, used by the report, the judges' tables and the app's battles.
"""

from __future__ import annotations

from workbench.store import Store

GROUND_TRUTH = "gt"  # pseudo-source: the dataset's own videos


def source_video_sql(ckpt: str, guidance: float | None = None) -> tuple[str, list]:
    """SQL selecting (sample_id, video_id) of a source on a dataset split, and the parameters
    after (dataset, split) that it needs. `guidance`: only videos sampled with that guidance
    scale (a study that samples one checkpoint at several scales reads each apart)."""
    if ckpt == GROUND_TRUTH:
        return "SELECT id AS sample_id, video_id FROM samples WHERE dataset = ? AND split = ?", []
    sampled_with = "" if guidance is None else "AND CAST(g.settings->>'guidance' AS DOUBLE) = ?"
    return (
        f"""SELECT g.sample_id, arg_max(g.video_id, g.created_at) AS video_id
            FROM generations g JOIN samples s ON s.id = g.sample_id
            WHERE s.dataset = ? AND s.split = ? AND g.checkpoint = ? {sampled_with}
            GROUP BY g.sample_id""",
        [ckpt] if guidance is None else [ckpt, guidance],
    )


def source_videos(store: Store, dataset: str, split: str, ckpt: str) -> dict[str, str]:
    """sample_id -> video_id of a source on a dataset split."""
    sql, extra = source_video_sql(ckpt)
    return {r["sample_id"]: r["video_id"] for r in store.query(sql, [dataset, split, *extra])}


def source_names(store: Store, dataset: str) -> list[str]:
    """'gt' and every source with videos of the dataset, oldest first."""
    rows = store.query(
        """SELECT g.checkpoint, min(g.created_at) AS first FROM generations g
           JOIN samples s ON s.id = g.sample_id WHERE s.dataset = ?
           GROUP BY g.checkpoint ORDER BY first""",
        [dataset],
    )
    return [GROUND_TRUTH, *(r["checkpoint"] for r in rows)]

"""The store's schema as an ordered list of migrations; the version is the count applied.

Append new migrations; never edit one that has shipped. Scores, votes and metrics are
append-only events: tables and ratings are recomputed from them.
"""

MIGRATIONS: list[str] = [
    # 1: the foundation.
    """
    CREATE TABLE datasets (
        name VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,            -- 'world' | 'videos'
        fps DOUBLE NOT NULL,
        frames INTEGER NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        config JSON NOT NULL,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE videos (
        id VARCHAR PRIMARY KEY,           -- first 16 hex of sha256
        sha256 VARCHAR NOT NULL,          -- of the mp4 bytes
        path VARCHAR NOT NULL,            -- relative to the home folder
        frames INTEGER NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        fps DOUBLE NOT NULL,
        source VARCHAR NOT NULL,          -- 'gt' | 'generated' | 'external'
        sample_id VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE generations (
        key VARCHAR PRIMARY KEY,          -- hash of (weights, sample, settings, seed)
        checkpoint VARCHAR NOT NULL,
        sample_id VARCHAR NOT NULL,
        seed BIGINT NOT NULL,
        settings JSON NOT NULL,
        video_id VARCHAR NOT NULL,
        run_id VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE samples (
        id VARCHAR PRIMARY KEY,           -- '<dataset>:<index>'
        dataset VARCHAR NOT NULL,
        split VARCHAR NOT NULL,           -- 'train' | 'test'
        idx INTEGER NOT NULL,
        prompt VARCHAR NOT NULL,
        attributes JSON,                  -- exact world attributes (judges), or import info
        video_id VARCHAR NOT NULL,        -- the ground-truth video
        first_frame VARCHAR NOT NULL,     -- PNG, relative path: the I2V condition
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE runs (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,            -- 'world.make', 'data.import', 'train', 'eval', ...
        config JSON NOT NULL,
        seed BIGINT,
        code_version VARCHAR NOT NULL,
        status VARCHAR NOT NULL,          -- 'running' | 'done' | 'failed'
        started_at TIMESTAMP DEFAULT current_timestamp,
        finished_at TIMESTAMP
    );
    CREATE TABLE checkpoints (
        name VARCHAR PRIMARY KEY,
        path VARCHAR NOT NULL,            -- absolute, or relative to the home folder
        method VARCHAR NOT NULL,          -- 'base' | 'sft' | 'dpo' | 'regdpo' | 'external'
        fingerprint VARCHAR NOT NULL,     -- hash of the weight files: same name, same weights
        task VARCHAR NOT NULL,            -- 't2v' | 'i2v'
        parent VARCHAR,
        run_id VARCHAR,
        config JSON,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE train_metrics (
        run_id VARCHAR NOT NULL,
        step INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        value DOUBLE,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE pairs (
        id VARCHAR PRIMARY KEY,
        pairset VARCHAR NOT NULL,
        sample_id VARCHAR NOT NULL,
        winner_video VARCHAR NOT NULL,
        loser_video VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,            -- 'gt' | 'annotated' | 'mined' | 'denoised' | 'corrupted'
        provenance JSON,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE scores (
        video_id VARCHAR NOT NULL,
        judge VARCHAR NOT NULL,
        judge_version VARCHAR NOT NULL,
        dimension VARCHAR NOT NULL,
        value DOUBLE,
        run_id VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    CREATE TABLE votes (
        id VARCHAR PRIMARY KEY,
        annotator VARCHAR NOT NULL,
        video_a VARCHAR NOT NULL,
        video_b VARCHAR NOT NULL,
        aspect VARCHAR NOT NULL,          -- 'vq' | 'pf'
        outcome VARCHAR NOT NULL,         -- 'good' | 'same' | 'bad', for A against B
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    """,
    # 2: blind battles. A battle is one pair of videos served to one annotator, under a
    # random id that is the only name the browser sees; votes point at it, and a vote's
    # outcome may also be 'both_bad' (kept apart from 'same', as FastChat does).
    """
    CREATE TABLE battles (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,            -- 'checkpoints' (two sources) | 'rollouts' (one source)
        dataset VARCHAR NOT NULL,
        sample_id VARCHAR NOT NULL,
        video_a VARCHAR NOT NULL,         -- shown on the left
        video_b VARCHAR NOT NULL,
        source_a VARCHAR NOT NULL,        -- revealed only after the vote
        source_b VARCHAR NOT NULL,
        annotator VARCHAR NOT NULL,       -- who it was served to
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    ALTER TABLE votes ADD COLUMN battle_id VARCHAR;
    """,
    # 3: the stages of studies (`workbench experiment run`): append-only events per stage.
    """
    CREATE TABLE stages (
        experiment VARCHAR NOT NULL,      -- e.g. 'paper'
        stage VARCHAR NOT NULL,           -- 'world', 'base', 'gtpairs', 'regdpo', ...
        command JSON NOT NULL,            -- the workbench command line the stage runs
        status VARCHAR NOT NULL,          -- 'running' | 'done' | 'failed'
        message VARCHAR,
        created_at TIMESTAMP DEFAULT current_timestamp
    );
    """,
    # 4: why a run failed (a training run stopped by non-finite steps, ...).
    """
    ALTER TABLE runs ADD COLUMN message VARCHAR;
    """,
]

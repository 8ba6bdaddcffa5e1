-- The 360 sync's state. Timestamps are Unix milliseconds.

-- One row per run of a sync profile.
CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    full_sync BOOLEAN NOT NULL,
    trigger_kind TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX sync_runs_by_profile ON sync_runs (profile_id, started_at);

-- Per run and object: what was read, written, deleted and failed. Written in the same
-- transaction as the object's watermark, so the two can never disagree.
CREATE TABLE sync_run_objects (
    run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    position BIGINT NOT NULL,
    records_read BIGINT NOT NULL,
    upserted BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    api_calls BIGINT NOT NULL,
    bulk_jobs BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    watermark_before BIGINT,
    watermark_after BIGINT,
    PRIMARY KEY (run_id, object)
);

-- How far each object of a profile has been synced: the next window starts here.
CREATE TABLE sync_watermarks (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    watermark BIGINT NOT NULL,
    PRIMARY KEY (profile_id, object)
);

-- Every failed record of every run (the CSV of `zbridge sync errors`).
CREATE TABLE sync_run_failures (
    run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    external_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    code TEXT NOT NULL,
    retry_class TEXT NOT NULL,
    status_code TEXT NOT NULL,
    message TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (run_id, object, external_id, operation)
);

-- The failures still open per profile: retryable ones are read again by the next run.
CREATE TABLE sync_open_failures (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    external_id TEXT NOT NULL,
    operation TEXT NOT NULL,
    retry_class TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (profile_id, object, external_id)
);

-- Every record the profile wrote to the org, with its parent and billing account, so deletes
-- can take whole subtrees children first, and cleanup can find everything.
CREATE TABLE sync_keys (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    external_id TEXT NOT NULL,
    parent_object TEXT,
    parent_id TEXT,
    account_id TEXT,
    -- The CrmId last written for the record's account, to re-point children when it changes.
    crm_id TEXT,
    PRIMARY KEY (profile_id, object, external_id)
);
CREATE INDEX sync_keys_by_parent ON sync_keys (profile_id, parent_object, parent_id);
CREATE INDEX sync_keys_by_account ON sync_keys (profile_id, account_id);

-- Records found to be deleted or out of scope, whose subtrees a run removes at its end,
-- children first. Written before the object's watermark moves, so a crash cannot lose them.
CREATE TABLE sync_pending_deletes (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    external_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (profile_id, object, external_id)
);

-- When each scheduled profile runs next.
CREATE TABLE sync_schedules (
    profile_id TEXT PRIMARY KEY REFERENCES components (id) ON DELETE CASCADE,
    every_secs BIGINT NOT NULL,
    next_due BIGINT NOT NULL
);

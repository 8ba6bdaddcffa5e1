-- The last `sync verify` of each profile: when, whether anything drifted, and the report
-- (JSON, per object: in scope, in the org, missing, extra, duplicated, stale).
CREATE TABLE sync_verifications (
    profile_id TEXT PRIMARY KEY REFERENCES components (id) ON DELETE CASCADE,
    verified_at BIGINT NOT NULL,
    drifted BOOLEAN NOT NULL,
    report TEXT NOT NULL
);

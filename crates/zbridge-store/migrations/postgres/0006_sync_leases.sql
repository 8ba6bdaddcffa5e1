-- Leases on sync profiles: while a lease is live (expires_at in the future), only its holder
-- runs the profile. Workers, `zbridge sync run` and the web UI take one before a run and
-- renew it while they work; a holder that dies simply stops renewing, and its lease expires.
-- Timestamps are Unix milliseconds from the database's clock.
CREATE TABLE sync_leases (
    profile_id TEXT PRIMARY KEY REFERENCES components (id) ON DELETE CASCADE,
    -- New for every acquisition: renewals and the release name it, so a holder that lost the
    -- lease can never extend or drop the next holder's.
    lease_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    renewals BIGINT NOT NULL,
    -- The holder's process: its machine boot and pid namespace, and its pid. A command on the
    -- same machine and namespace can see that the process is gone and take over at once.
    holder_key TEXT NOT NULL,
    holder_pid BIGINT NOT NULL
);

-- Runs left `Running` are few; workers look for them on every claim to resume them.
CREATE INDEX sync_runs_running ON sync_runs (profile_id) WHERE status = 'Running';

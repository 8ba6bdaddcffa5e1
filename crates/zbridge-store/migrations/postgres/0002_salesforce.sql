-- Salesforce sync credentials. A sync profile is a saved component (kind 'sync profile'); it
-- holds at most one credential of each kind ('password', 'oauth', 'jwt'), exactly one of them
-- active. Non-secret fields are JSON in config; secrets are sealed one per row, bound to
-- "sf_credential:<profile id>.<kind>/<field>".
CREATE TABLE sf_credentials (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    config TEXT NOT NULL,
    -- Bumped on every change by a person (edit, switch), never by a token refresh, so a
    -- running sync notices at its next batch boundary that it must authenticate again.
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (profile_id, kind)
);

CREATE TABLE sf_credential_secrets (
    profile_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    field TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    PRIMARY KEY (profile_id, kind, field),
    FOREIGN KEY (profile_id, kind) REFERENCES sf_credentials (profile_id, kind) ON DELETE CASCADE
);

-- Single-flight OAuth refresh across processes: one lease per credential.
CREATE TABLE sf_refresh_leases (
    profile_id TEXT PRIMARY KEY REFERENCES components (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

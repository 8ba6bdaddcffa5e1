-- Timestamps are Unix milliseconds (BIGINT) so that the same queries run on SQLite and PostgreSQL.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    project_id TEXT REFERENCES projects (id),
    config TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, name_key)
);

-- One sealed secret per row: nonce and ciphertext, bound to "connection:<id>/<field>".
CREATE TABLE connection_secrets (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (connection_id, field)
);

-- scope_key is '' for global variables and the project id otherwise, so that the unique
-- constraint works without NULL semantics.
CREATE TABLE variables (
    id TEXT PRIMARY KEY,
    project_id TEXT REFERENCES projects (id),
    scope_key TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    secret BOOLEAN NOT NULL,
    plain_value TEXT,
    sealed_value BLOB,
    updated_at BIGINT NOT NULL,
    UNIQUE (scope_key, name_key)
);

-- Saved components (saved queries, sync profiles, ...) and the connections they use.
CREATE TABLE components (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (kind, name_key)
);

CREATE TABLE component_refs (
    component_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES connections (id),
    PRIMARY KEY (component_id, connection_id)
);

CREATE INDEX component_refs_by_connection ON component_refs (connection_id);

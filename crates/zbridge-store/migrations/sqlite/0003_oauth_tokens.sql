-- The OAuth token cache, one row per connection so connections never overwrite each other's
-- tokens. The token is sealed; the associated data binds it to the connection id, base URL and
-- client id, so a token cached for other credentials fails to open and is simply not used.
CREATE TABLE oauth_tokens (
    connection_id TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    sealed BLOB NOT NULL,
    scope TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

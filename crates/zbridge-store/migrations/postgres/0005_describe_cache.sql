-- Discovery results (table lists and describes) per connection and service, so discovery does
-- not call Zuora again until the cache's age passes DescribeCacheTTL (or --refresh is given).
CREATE TABLE describe_cache (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    object TEXT NOT NULL,
    body TEXT NOT NULL,
    fetched_at BIGINT NOT NULL,
    PRIMARY KEY (connection_id, service, object)
);

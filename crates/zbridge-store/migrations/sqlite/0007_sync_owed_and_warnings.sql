-- Notes a run leaves in its history besides its status (a clock skew with Zuora), one per
-- line.
ALTER TABLE sync_runs ADD COLUMN warnings TEXT;

-- Children owed to a record that entered the scope in an incremental run (an account that
-- gained a CrmId, a subscription back in a synced status): the child object must read the
-- rows whose parent is `parent_id`, whatever their UpdatedDate, because their own windows
-- have passed them by. Written before the parent is written, removed only after the child
-- object's checkpoint, so a run that is killed or fails in between leaves the debt for the
-- next run instead of losing the subtree.
CREATE TABLE sync_owed_children (
    profile_id TEXT NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    object TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    PRIMARY KEY (profile_id, object, parent_id)
);

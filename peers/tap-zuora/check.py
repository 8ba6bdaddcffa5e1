"""Checks tap-zuora's Singer output against the simulator's row counts.

Every selected stream must have one SCHEMA message, unique record ids, as many live records
(Deleted false or absent) as the simulator holds live rows, and as many deleted records as it
retains soft-deleted rows (tap-zuora selects the Deleted column, so stateful AQuA returns them).
"""
import json
import sys
import urllib.request

out_path, info_url, streams = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
entity = json.load(urllib.request.urlopen(info_url))["entities"][0]
live_expected, deleted_expected = entity["liveRows"], entity["retainedDeletedRows"]
live, deleted, schemas, ids = {}, {}, set(), {}
for line in open(out_path):
    msg = json.loads(line)
    if msg["type"] == "RECORD":
        bucket = deleted if msg["record"].get("Deleted") else live
        bucket[msg["stream"]] = bucket.get(msg["stream"], 0) + 1
        ids.setdefault(msg["stream"], set()).add(msg["record"]["Id"])
    elif msg["type"] == "SCHEMA":
        schemas.add(msg["stream"])
ok = True
for s in streams:
    got_live, got_deleted = live.get(s, 0), deleted.get(s, 0)
    unique = len(ids.get(s, ()))
    good = (
        s in schemas
        and got_live == live_expected[s]
        and got_deleted == deleted_expected[s]
        and unique == got_live + got_deleted
        and got_live > 0
    )
    ok &= good
    print(
        f"{s:16} live={got_live:6}/{live_expected[s]:<6} deleted={got_deleted:4}/{deleted_expected[s]:<4} "
        f"unique_ids={unique:6} {'ok' if good else 'MISMATCH'}"
    )
sys.exit(0 if ok else 1)

"""Marks the given streams, and all of their available fields, as selected in a catalog."""
import json
import sys

catalog = json.load(open(sys.argv[1]))
wanted = set(sys.argv[2].split(","))
found = set()
for stream in catalog["streams"]:
    selected = stream["tap_stream_id"] in wanted
    if selected:
        found.add(stream["tap_stream_id"])
    for entry in stream["metadata"]:
        if entry["breadcrumb"] == []:
            entry["metadata"]["selected"] = selected
        elif selected and entry["metadata"].get("inclusion") == "available":
            entry["metadata"]["selected"] = True
missing = wanted - found
if missing:
    sys.exit(f"streams not discovered: {sorted(missing)}")
json.dump(catalog, sys.stdout)

"""Upserts a CSV file through simple-salesforce's Bulk API 2.0 (`sf.bulk2.<Object>.upsert`),
unmodified, against the zbridge Salesforce simulator, and prints one JSON line: rows, seconds,
jobs, failed rows and the peak RSS of this process. Used by bench/salesforce_load.sh.

    python bulk_upsert.py SIM_INFO_JSON CSV OBJECT EXTERNAL_ID [--wait S] [--results]

SIM_INFO_JSON is the file holding the simulator's JSON line ({"orgs": [...]}). `--wait` is
simple-salesforce's `wait` (seconds before the first poll and the base of its poll backoff; its
default is 5). `--results` also downloads every job's successful and failed records, as a
loader that reports per-record outcomes must (zbridge's loader always does).
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import session_for, user  # noqa: E402  (the transport adapter, nothing patched)

from simple_salesforce import Salesforce  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("info")
    parser.add_argument("csv")
    parser.add_argument("object")
    parser.add_argument("external_id")
    parser.add_argument("--wait", type=float, default=5)
    parser.add_argument("--results", action="store_true")
    args = parser.parse_args()

    with open(args.info) as f:
        orgs = json.loads(f.readline())["orgs"]
    prod = next(o for o in orgs if o["kind"] == "production")
    admin = user(prod, "admin")
    sf = Salesforce(username=admin["username"], password=admin["password"],
                    security_token=admin["security_token"], domain="login",
                    session=session_for(orgs))
    loader = getattr(sf.bulk2, args.object)

    started = time.time()
    jobs = loader.upsert(csv_file=args.csv, external_id_field=args.external_id, wait=args.wait)
    result_rows = 0
    if args.results:
        for job in jobs:
            for text in (loader.get_successful_records(job["job_id"]),
                         loader.get_failed_records(job["job_id"])):
                result_rows += max(text.count("\n") - 1, 0)
    seconds = time.time() - started

    print(json.dumps({
        "rows": sum(int(j["numberRecordsTotal"]) for j in jobs),
        "seconds": seconds,
        "jobs": len(jobs),
        "failed": sum(int(j["numberRecordsFailed"]) for j in jobs),
        "resultRows": result_rows,
        "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()

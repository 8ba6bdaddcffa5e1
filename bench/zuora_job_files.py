"""Finds the result files of the jobs a `zbridge query` run completed, the way Zuora's API
documents it, so that curl can download exactly the same files.

    python3 bench/zuora_job_files.py BASE_URL CLIENT_ID ZBRIDGE_LOG > files.txt

The client secret comes from the ZUORA_SECRET environment variable. ZBRIDGE_LOG is zbridge's
stderr with `ZBRIDGE_LOG=zbridge_zuora::query=debug`: its "job submitted" / "job completed"
lines give the job ids and when each job ran.

Prints one line per file, `URL AUTH` (AUTH is a bearer token for AQuA's /v1/files, `-` for a
Data Query pre-signed URL), then a last line `# job_seconds S`: the time zbridge spent waiting
for its jobs, from submit to completion (a failed job: to the next submit), summed.
"""
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from datetime import datetime

base, client_id, log_path = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
secret = os.environ["ZUORA_SECRET"]

LINE = re.compile(r"^(\S+)\s+DEBUG\s+\S+\s+(AQuA|Data Query) job (submitted|completed)\s+job=(\S+)")


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


events = []
for line in open(log_path, encoding="utf-8", errors="replace"):
    m = LINE.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
    if m:
        events.append((instant(m.group(1)), m.group(2), m.group(3), m.group(4)))

# Jobs run one after another: a job that failed (an export over the output cap) was waited for
# until the next job was submitted.
completed, job_seconds = [], 0.0
for i, (when, service, event, job) in enumerate(events):
    if event != "submitted":
        continue
    later = events[i + 1:]
    done = next((t for t, _, e, j in later if j == job and e == "completed"), None)
    if done is not None:
        completed.append((service, job))
    else:
        done = next((t for t, _, e, _ in later if e == "submitted"), when)
    job_seconds += (done - when).total_seconds()

form = urllib.parse.urlencode({"client_id": client_id, "client_secret": secret,
                               "grant_type": "client_credentials"}).encode()
token = json.load(urllib.request.urlopen(f"{base}/oauth/token", data=form))["access_token"]


def get(path):
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


for service, job in completed:
    if service == "AQuA":
        for batch in get(f"/v1/batch-query/jobs/{job}")["batches"]:
            for file_id in batch.get("segments") or [batch["fileId"]]:
                print(f"{base}/v1/files/{file_id} {token}")
    else:
        print(f"{get(f'/query/jobs/{job}')['data']['dataFile']} -")
print(f"# job_seconds {job_seconds:.3f}")

"""Runs tap-zuora 1.6.1 unmodified against the zbridge Zuora simulator.

Only two things change, both module-level settings of tap-zuora:
  * its URL table (tap_zuora.client.URLS), pointed at the simulator's base URL;
  * its poll interval (tap_zuora.sync.DEFAULT_POLL_INTERVAL), 60 s -> 1 s.
The base URL comes from the ZUORA_SIM_BASE_URL environment variable.
"""
import os
import sys

import tap_zuora
import tap_zuora.client
import tap_zuora.sync

base = os.environ["ZUORA_SIM_BASE_URL"].rstrip("/") + "/"
for key in list(tap_zuora.client.URLS):
    tap_zuora.client.URLS[key] = [base]
tap_zuora.sync.DEFAULT_POLL_INTERVAL = 1

if __name__ == "__main__":
    sys.exit(tap_zuora.main())

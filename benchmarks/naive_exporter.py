"""The baseline of the benchmark: an AMS v2 job exporter written the way
prometheus_client's documentation shows a custom collector.

`collect()` lists the account's jobs from the v2 REST API on every scrape (plain
`requests`, pages of `$top=1000` walked with `$skip`, as a user would) and yields
`GaugeMetricFamily` objects: state, age and running duration per job. The collector
is registered on its own `CollectorRegistry` and served by
`prometheus_client.start_http_server`. It runs in a process of its own:

    python benchmarks/naive_exporter.py --endpoint http://host/v2/bench/api/ --port 0

prints the port it listens on, then serves until killed. It is a baseline to
measure against, not part of the exporter (no auth, retries or paging limits).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import requests
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

PAGE = 1000  # the most AMS v2 returns at once
HEADERS = {"x-ms-version": "2.19", "Accept": "application/json",
           "DataServiceVersion": "3.0", "MaxDataServiceVersion": "3.0"}
STATES = ("Queued", "Scheduled", "Processing", "Finished", "Error", "Canceled", "Canceling")
FINAL = {3, 4, 5}


def _time(value: Any) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()


class AmsJobsCollector(Collector):
    def __init__(self, endpoint: str, account: str) -> None:
        self.endpoint = endpoint
        self.account = account
        self.session = requests.Session()

    def jobs(self) -> Iterator[dict[str, Any]]:
        skip = 0
        while True:
            response = self.session.get(f"{self.endpoint}Jobs",
                                        params={"$skip": skip, "$top": PAGE},
                                        headers=HEADERS, timeout=120)
            response.raise_for_status()
            page = response.json()["value"]
            yield from page
            if len(page) < PAGE:
                return
            skip += len(page)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["account", "job_id", "job_name"]
        state = GaugeMetricFamily("ams_job_state", "1 for the job's current state.",
                                  labels=[*labels, "state"])
        age = GaugeMetricFamily("ams_job_age_seconds", "Seconds since the job was created.",
                                labels=labels)
        running = GaugeMetricFamily("ams_job_running_duration_seconds",
                                    "Seconds the job has been running.", labels=labels)
        now = time.time()
        for job in self.jobs():
            values = [self.account, job["Id"], job["Name"]]
            code = job["State"]
            state.add_metric([*values, STATES[code]], 1)
            age.add_metric(values, max(0.0, now - (_time(job["Created"]) or now)))
            start, end = _time(job.get("StartTime")), _time(job.get("EndTime"))
            if start is None:
                duration = 0.0
            elif code in FINAL and end is not None:
                duration = end - start
            else:
                duration = now - start
            running.add_metric(values, max(0.0, duration))
        yield state
        yield age
        yield running


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="the account's v2 API root, with /")
    parser.add_argument("--account", default="bench")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    registry = CollectorRegistry()
    registry.register(AmsJobsCollector(args.endpoint, args.account))
    server, _ = start_http_server(args.port, addr="127.0.0.1", registry=registry)
    print(server.server_address[1], flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())

"""A run that fails, as the harness exporter reports it, in its own process.

Usage: python failing_run.py PORT. Serves the exporter on 127.0.0.1:PORT, waits for
Prometheus's first scrape, then records a failed reconciliation and a failed sweep point
and prints {"failed_at": <Unix time>}; it exits once Prometheus has scraped the failure,
as a finished run's process does.
"""

from __future__ import annotations

import json
import sys
import time

from lakelab.metrics import Exporter


def main() -> int:
    exporter = Exporter(port=int(sys.argv[1]), cloudwatch=None).start()
    deadline = time.monotonic() + 60
    while exporter.scrapes == 0:
        if time.monotonic() > deadline:
            print(json.dumps({"error": "never scraped"}), flush=True)
            return 1
        time.sleep(0.05)
    exporter.sweep_started(planned_points=1)
    exporter.observe_stage("silver", "orders", rows_out=990, rows_quarantined=10, seconds=1.0)
    exporter.set_reconciliation(False)
    exporter.sweep_point_done({"spark.sql.shuffle.partitions": 2}, seconds=1.0, ok=False)
    print(json.dumps({"failed_at": time.time()}), flush=True)
    scraped = exporter.flush(timeout_s=30)
    exporter.stop()
    return 0 if scraped else 1


if __name__ == "__main__":
    sys.exit(main())

"""A short-lived Spark driver for the panel honesty test.

Run as `python spark_driver_job.py MASTER UI_PORT`: starts a session through
`lakelab.spark.get_session` with the UI (and so the Prometheus endpoints) on UI_PORT,
runs a small cached aggregation, prints one JSON line, then waits until its stdin
closes so Prometheus can scrape it.
"""

from __future__ import annotations

import json
import sys

from lakelab.config import parse_config
from lakelab.spark import get_session


def main() -> None:
    master, ui_port = sys.argv[1], int(sys.argv[2])
    config = parse_config(
        {
            "spark": {
                "master": master,
                "app_name": "lakelab-honesty",
                "driver_memory": "512m",
                "executor_memory": "512m",
                "ui_enabled": True,
                "ui_port": ui_port,
                "log_level": "ERROR",
                "conf": {
                    "spark.sql.shuffle.partitions": "2",
                    "spark.cores.max": "1",
                    "spark.ui.showConsoleProgress": "false",
                    # Executor memory peaks arrive with heartbeats; 10 s would outlast the test.
                    "spark.executor.heartbeatInterval": "1s",
                },
            }
        },
        "spark_driver_job.py",
    )
    spark = get_session(config)
    # Cached, so the executor holds storage memory the memory panels can show.
    frame = spark.range(0, 200_000).selectExpr("id % 97 AS k", "id AS v").cache()
    groups = frame.groupBy("k").count().collect()
    print(json.dumps({"ready": True, "groups": len(groups), "app_id": spark.sparkContext.applicationId}))
    sys.stdout.flush()
    sys.stdin.read()
    spark.stop()


if __name__ == "__main__":
    main()

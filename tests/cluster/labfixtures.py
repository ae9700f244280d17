"""Helpers of the cluster tests: the test lab's config and a driver process to talk to."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from lakelab.config import LakelabConfig

DRIVER_SCRIPT = Path(__file__).with_name("driver.py")
# Shifted from the defaults (7077 -> 17077, ...) so a user's own lab can keep running.
TEST_PORTS = {
    "spark_master": 17077,
    "spark_master_ui": 18080,
    "spark_worker_ui": 18081,
    "spark_connect": 15102,
    "spark_connect_ui": 14041,
    "minio": 19000,
    "minio_console": 19001,
    "prometheus": 19090,
    "alertmanager": 19093,
    "grafana": 13000,
    "driver_ui": 14040,
    "exporter": 19108,
}
BUCKET = "lakelab-test"


def lab_config_data(state_dir: Path) -> dict[str, Any]:
    """The config the cluster tests run with (also written to a TOML for CLI tests)."""
    return {
        "spark": {
            "master": f"spark://127.0.0.1:{TEST_PORTS['spark_master']}",
            "app_name": "lakelab-cluster-tests",
            "driver_memory": "1g",
            "executor_memory": "512m",
            "ui_port": TEST_PORTS["driver_ui"],
            "log_level": "ERROR",
            "conf": {
                "spark.sql.shuffle.partitions": "2",
                "spark.default.parallelism": "2",
                "spark.databricks.delta.snapshotPartitions": "2",
                "spark.ui.showConsoleProgress": "false",
                # One retry: a task lost with its worker is retried; a store that is down
                # fails the job within seconds instead of four slow attempts.
                "spark.task.maxFailures": "2",
            },
        },
        "s3": {"endpoint": f"http://127.0.0.1:{TEST_PORTS['minio']}", "buckets": [BUCKET]},
        "paths": {"warehouse": f"s3a://{BUCKET}/warehouse", "landing": f"s3a://{BUCKET}/landing"},
        "cluster": {
            "mode": "native",
            "state_dir": str(state_dir),
            "workers": 2,
            "worker_cores": 2,
            "worker_memory": "1g",
            "ports": TEST_PORTS,
            "spark_connect_memory": "512m",
            "health_timeout_s": 240.0,
            "prometheus_scrape_interval": "2s",
        },
    }


class ClusterDriver:
    """A child process holding one SparkSession on the lab's master."""

    def __init__(self, config: LakelabConfig, log_path: Path) -> None:
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(DRIVER_SCRIPT), config.model_dump_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            # pyspark sends this interpreter to the executors for Python code; without it
            # they start the system `python3`, which has no pyspark or pyarrow.
            env={**os.environ, "PYSPARK_PYTHON": sys.executable},
        )
        self.log_path = log_path
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self._next(timeout_s=300)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("@@"):
                self._answers.put(json.loads(line[2:]))
        self._answers.put({"ok": False, "error": "driver exited", "exited": True})

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            return self._answers.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"driver gave no answer within {timeout_s}s; see {self.log_path}") from None

    def pending(self) -> bool:
        """True while no answer is waiting (the last request is still running)."""
        return self._answers.empty()

    def send(self, op: str, **fields: Any) -> None:
        """Send a request without waiting for its answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout_s: float = 240) -> dict[str, Any]:
        """The answer to the oldest request still waiting."""
        return self._next(timeout_s)

    def call(self, op: str, timeout_s: float = 240, **fields: Any) -> dict[str, Any]:
        """Send a request and wait for its answer."""
        self.send(op, **fields)
        return self.receive(timeout_s)

    def close(self) -> None:
        """Ask the driver to stop, then make sure it did."""
        if self.process.poll() is None:
            with contextlib.suppress(AssertionError, BrokenPipeError, OSError):
                self.call("quit", timeout_s=60)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

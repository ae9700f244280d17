"""One sweep run in a fresh Python and JVM, for settings Spark only reads at start-up.

The parent (`harness.sweep.run_in_child`) writes a JSON spec on stdin; this process starts its
own session with the point's settings, measures the run exactly as the parent would, prints
progress lines, and prints its figures as one last line after `CHILD_RESULT_PREFIX`.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    """Read the spec, run, print the result line."""
    from harness.sweep import CHILD_RESULT_PREFIX, measure_run
    from harness.workloads import get_workload
    from lakelab.config import LakelabConfig
    from lakelab.spark import get_session

    spec = json.loads(sys.stdin.read())
    # JSON mode: strict models accept ISO dates as text there, not in Python mode.
    config = LakelabConfig.model_validate_json(spec["config"])
    spark = get_session(config, app_name=f"{config.spark.app_name}-sweep", extra_conf=spec["extra_conf"])

    def progress(line: str) -> None:
        print(line, flush=True)

    try:
        measured = measure_run(
            spark,
            config,
            get_workload(spec["workload"]),
            spec["landing"],
            spec["warehouse"],
            spec["layers"],
            int(spec["records"]),
            progress,
        )
    finally:
        spark.stop()
    print(CHILD_RESULT_PREFIX + json.dumps(measured, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

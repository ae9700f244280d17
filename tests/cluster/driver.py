"""A Spark driver on the lab's standalone master, run as a child process by the tests.

One Python process holds one SparkContext, and the suite's own session is local, so
the cluster tests talk to this process instead: one JSON request per stdin line, one
JSON answer per stdout line prefixed with `@@`. One driver serves every test, so the
JVM start (10-60 s on a busy machine) is paid once.

Usage: python tests/cluster/driver.py CONFIG_JSON
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from lakelab.config import LakelabConfig
from lakelab.spark import get_session


def _sleepy(seconds: float) -> Any:
    def run(rows: Any) -> Any:
        time.sleep(seconds)
        yield from rows

    return run


def main() -> None:
    # JSON, not a dict: strict models take dates as strings only from JSON.
    config = LakelabConfig.model_validate_json(sys.argv[1])
    spark = get_session(config, "lakelab-cluster-tests")
    answer({"ready": True, "app_id": spark.sparkContext.applicationId})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer({"ok": True, **handle(spark, config, request)})
        except Exception as error:  # every failure goes back to the test, which judges it
            from cluster.failures import explain

            answer({"ok": False, "error": explain(error, config.s3.endpoint), "raw": str(error)[:2000]})
        if request["op"] == "quit":
            break


def handle(spark: Any, config: LakelabConfig, request: dict[str, Any]) -> dict[str, Any]:
    """Run one request."""
    op = request["op"]
    if op == "quit":
        return {}
    if op == "write":
        # `rows` rows (id, id * 2) in `partitions` tasks, each sleeping `sleep` seconds first.
        frame = spark.range(request["rows"], numPartitions=request.get("partitions", 2))
        rdd = frame.rdd.mapPartitions(_sleepy(request.get("sleep", 0.0)))
        frame = spark.createDataFrame(rdd, frame.schema).selectExpr("id", "id * 2 AS doubled")
        frame.write.format("delta").mode(request.get("mode", "overwrite")).save(request["path"])
        return {}
    if op == "read":
        row = (
            spark.read.format("delta")
            .load(request["path"])
            .selectExpr("count(*) AS n", "sum(id) AS ids", "sum(doubled) AS doubled")
            .first()
        )
        return {"count": row["n"], "sum_id": row["ids"], "sum_doubled": row["doubled"]}
    if op == "slow_sum":
        # Sum of 0..rows-1 over `partitions` tasks that each sleep; used to kill a worker
        # while tasks run on it.
        rdd = spark.sparkContext.parallelize(range(request["rows"]), request["partitions"])
        return {"sum": rdd.mapPartitions(_sleepy(request["sleep"])).sum()}
    if op == "executors":
        ids = spark.sparkContext._jsc.sc().getExecutorIds()  # the driver is not among them
        return {"ids": sorted(ids.apply(index) for index in range(ids.size()))}
    if op == "pipeline":
        return run_pipeline_request(spark, config, request)
    raise ValueError(f"unknown op {op!r}")


def run_pipeline_request(spark: Any, config: LakelabConfig, request: dict[str, Any]) -> dict[str, Any]:
    """Generate a small landing on MinIO, run the pipeline's layers, read each table back."""
    from datagen.config import DatagenConfig
    from datagen.generate import generate
    from pipeline import io
    from pipeline.contracts import ALL_CONTRACTS
    from pipeline.run import run_pipeline

    landing, warehouse = request["landing"], request["warehouse"]
    generated = generate(spark, DatagenConfig(records=request["records"], seed=7), landing, overwrite=True)
    result = run_pipeline(spark, config, landing, warehouse, layers=request.get("layers"))
    tables = {}
    for contract in ALL_CONTRACTS:
        path = contract.path(warehouse)
        if io.is_delta_table(spark, path):
            tables[contract.qualified_name] = io.read_table(spark, path).count()
    return {
        "generated_rows": generated.rows,
        "generated": {table.table: table.rows for table in generated.tables},
        "reconciled": result.reconciled,
        "layers": list(result.layers),
        "stages": [stage.to_dict() for stage in result.stages],
        "tables": tables,
        "seconds": result.seconds,
    }


def answer(payload: dict[str, Any]) -> None:
    """One answer line."""
    sys.stdout.write("@@" + json.dumps(payload) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

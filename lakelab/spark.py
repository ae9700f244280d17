"""The one SparkSession factory, for every target lakelab runs on.

Targets are set by config, not by code paths: `spark.master` is `local[*]` (the
default), `local[N]` or a standalone `spark://host:port`; tables live on local disk
or on an S3-compatible store through S3A. Delta's extension and catalog, the jars,
S3A and the Prometheus endpoints are configured here and nowhere else.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lakelab import jvm
from lakelab.config import LakelabConfig, S3Config
from lakelab.errors import UserError
from lakelab.paths import is_remote, ivy_dir

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's PrometheusServlet: the driver serves /metrics/prometheus on its UI port, the
# standalone master /metrics/master/prometheus and /metrics/applications/prometheus.
METRICS_CONF = {
    "spark.ui.prometheus.enabled": "true",
    "spark.metrics.conf.*.sink.prometheusServlet.class": ("org.apache.spark.metrics.sink.PrometheusServlet"),
    "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
    "spark.metrics.conf.master.sink.prometheusServlet.path": "/metrics/master/prometheus",
    "spark.metrics.conf.applications.sink.prometheusServlet.path": ("/metrics/applications/prometheus"),
    # Without a namespace the metric names embed the application id, which changes
    # every run and breaks every dashboard query.
    "spark.metrics.namespace": "lakelab",
    "spark.metrics.appStatusSource.enabled": "true",
}

# Spark's and Delta's defaults are sized for data-centre clusters: 200 shuffle partitions and
# 50 tasks for every Delta log replay ("Filtering files for query", "Compute snapshot").
# On 2 cores at 100k records those tiny tasks were most of a pipeline run: 4 snapshot
# partitions ran it in 176 s against 345 s with 50 (medians of 2; docs/performance-tuning.md,
# sweep 3). Delta's VACUUM lists a table's files in
# `parallelPartitionDiscovery.parallelism` tasks (Spark's default 10000): `lakelab maintain`
# over 8 small tables took 228.6 s with 10000 against 30.1 s with 8 (medians of 3,
# `benchmarks/maintain_bench.py`). `[spark.conf]` and sweep
# settings override them.
LAB_DEFAULTS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.databricks.delta.snapshotPartitions": "4",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
}

LOG4J2_CONFIG = Path(__file__).with_name("log4j2.properties")
# The system property lakelab/log4j2.properties reads the driver's log file from.
LOG_FILE_PROPERTY = "lakelab.log.file"
_session_log_file: Path | None = None


def new_log_file(config: LakelabConfig, app_name: str) -> Path:
    """A fresh log file for a driver: `<paths.reports>/logs/<app>-<UTC time>-<pid>.log`.

    Reports on an object store put it in the system's temporary folder instead.
    """
    import datetime as dt
    import tempfile

    root = Path(tempfile.gettempdir()) if is_remote(config.paths.reports) else Path(config.paths.reports)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = (root / "logs").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{app_name}-{stamp}-{os.getpid()}.log"


def session_log_file() -> Path | None:
    """The log file of the session this process started, if it started one."""
    return _session_log_file


DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def s3_credentials(s3: S3Config) -> tuple[str, str]:
    """Access and secret key from the environment (or `.env`), or a UserError naming them."""
    access = os.environ.get(s3.access_key_env)
    secret = os.environ.get(s3.secret_key_env)
    if not access or not secret:
        missing = [
            name for name, value in ((s3.access_key_env, access), (s3.secret_key_env, secret)) if not value
        ]
        raise UserError(
            f"S3 credentials missing: set {' and '.join(missing)} in the environment or in .env "
            "(see .env.example)"
        )
    return access, secret


def s3a_conf(s3: S3Config) -> dict[str, str]:
    """Hadoop settings for S3A against an S3-compatible endpoint (MinIO by default)."""
    access, secret = s3_credentials(s3)
    return {
        "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint": s3.endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style_access).lower(),
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.endpoint.startswith("https")).lower(),
        "spark.hadoop.fs.s3a.access.key": access,
        "spark.hadoop.fs.s3a.secret.key": secret,
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
        # Fail fast when the store is down instead of retrying for minutes.
        "spark.hadoop.fs.s3a.attempts.maximum": "3",
        "spark.hadoop.fs.s3a.retry.limit": "3",
        # Hadoop raises anything under 15s to 15s, with a warning.
        "spark.hadoop.fs.s3a.connection.establish.timeout": "15s",
        "spark.hadoop.fs.s3a.connection.timeout": "30s",
        # Delta needs a LogStore that knows S3 has no atomic rename (single driver).
        "spark.delta.logStore.s3a.impl": "io.delta.storage.S3SingleDriverLogStore",
    }


def uses_object_store(config: LakelabConfig) -> bool:
    """True when the landing, the warehouse or the sweeps' data is on an object store."""
    return any(is_remote(path) for path in (config.paths.landing, config.paths.warehouse, config.paths.sweep))


def session_conf(
    config: LakelabConfig,
    app_name: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
    jars: Sequence[str] | None = None,
    log_file: Path | None = None,
) -> dict[str, str]:
    """Every Spark setting a session gets, in the order later ones win.

    `jars`: the jar files `lakelab setup` resolved (`jvm.resolved_jars`); without them
    Spark resolves the Maven packages at start-up. `log_file`: where the driver's Spark and
    Hadoop log lines go (without one, to stderr). Pure, so tests can check what a target
    would get without starting a JVM.
    """
    java_options = f"-Dlog4j2.configurationFile={LOG4J2_CONFIG.as_uri()}"
    if log_file is not None:
        java_options += f" -D{LOG_FILE_PROPERTY}={log_file}"
    spark = config.spark
    conf: dict[str, str] = {
        "spark.master": spark.master,
        "spark.app.name": app_name or spark.app_name,
        "spark.driver.memory": spark.driver_memory,
        "spark.executor.memory": spark.executor_memory,
        # Executors call the driver back on this address. In the compose lab's containers the
        # image's entrypoint sets LAKELAB_ADVERTISE_HOST to the container's IP: a job started
        # with `docker compose run` has no DNS name other containers know.
        "spark.driver.host": os.environ.get("LAKELAB_ADVERTISE_HOST") or "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": str(spark.ui_enabled).lower(),
        "spark.ui.port": str(spark.ui_port),
        "spark.sql.session.timeZone": "UTC",
        # lakelab prints its own per-stage lines; Spark's console bar would interleave with them.
        "spark.ui.showConsoleProgress": "false",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # Parquet timestamps as int64 microseconds, not INT96: readers other than Spark (pyarrow,
        # pandas, DuckDB, delta-rs) turn INT96 into nanoseconds, which wraps years outside
        # 1677..2262 (9999-12-31 read back as 1816-03-30).
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Spark's and Hadoop's log lines go to a file, not the console: lakelab prints its
        # own progress, and a failure as one line that names this file.
        "spark.driver.extraJavaOptions": java_options,
        **LAB_DEFAULTS,
        **DELTA_CONF,
        **METRICS_CONF,
    }
    if jars:
        conf["spark.jars"] = ",".join(jars)
    else:
        conf["spark.jars.packages"] = ",".join(jvm.spark_packages())
        conf["spark.jars.excludes"] = ",".join(jvm.EXCLUDED_PACKAGES)
        conf["spark.jars.ivy"] = str(ivy_dir())
    if uses_object_store(config):
        conf.update(s3a_conf(config.s3))
    conf.update(spark.conf)
    conf.update(extra_conf or {})
    return conf


def get_session(
    config: LakelabConfig,
    app_name: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or return the running) SparkSession for `config`.

    Raises:
        UserError: Java is missing, or the JVM could not start (often: jars that
            could not be fetched); the message says what to do.
    """
    jvm.check_java()
    # Executors start Python workers (UDFs, pandas) with PYSPARK_PYTHON, not with this
    # interpreter; on a standalone cluster the system python3 lacks pyspark and pyarrow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    global _session_log_file
    starting = SparkSession.getActiveSession() is None
    log_file = new_log_file(config, app_name or config.spark.app_name) if starting else None
    conf = session_conf(config, app_name, extra_conf, jvm.resolved_jars(ivy_dir()), log_file)
    if not starting:
        # getOrCreate applies the builder's settings to a running session: lakelab's defaults
        # must not overwrite what that session was started with (a test suite's, a sweep's).
        chosen = {**config.spark.conf, **(extra_conf or {})}
        conf = {key: value for key, value in conf.items() if key not in LAB_DEFAULTS or key in chosen}
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except PySparkRuntimeError as error:
        raise UserError(
            "Spark's JVM did not start "
            f"({error.getErrorClass() or error}); most often Maven Central could not be "
            f"reached to fetch {jvm.DELTA_PACKAGE} and hadoop-aws into {ivy_dir()}: "
            "run `lakelab setup` to see the resolver's output"
        ) from None
    if log_file is not None:
        _session_log_file = log_file
    session.sparkContext.setLogLevel(config.spark.log_level)
    _quiet_known_warnings(session)
    return session


def _quiet_known_warnings(session: SparkSession) -> None:
    """Silence warnings about choices lakelab made on purpose.

    Gold's RFM quintiles rank all customers at once (`ntile` over an unpartitioned window):
    one partition is the definition, not an accident, and Spark would otherwise print
    "No Partition Defined for Window operation!" a dozen times per run.
    """
    # PySpark logs a failed query's message and JVM stack as JSON on the console before
    # raising it; lakelab says what failed in one line and the error is raised all the same.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
    jvm = session._jvm
    if jvm is None:
        return
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.execution.window.WindowExec", log4j.Level.ERROR
    )

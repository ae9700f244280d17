"""The harness's Prometheus exporter (and, when asked, its CloudWatch publisher).

It can only emit harness metrics declared in the catalog (`lakelab.catalog.METRICS`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lakelab.catalog import DEFAULT_RECONCILIATION_CHECK, METRICS, METRICS_BY_NAME, MetricType, Source
from lakelab.errors import UserError
from lakelab.records import point_label

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from lakelab.cloudwatch import CloudWatchPublisher

DEFAULT_EXPORTER_PORT = 9108
"""The port the harness exporter's scrape job (`cluster/scrape.py`, `prometheus/prometheus.yml`) targets."""

STAGE_SECONDS_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


class _FromEnv:
    """The exporter's default for `cloudwatch`: ask the environment (off unless it says so)."""


_FROM_ENV = _FromEnv()


class Exporter:
    """The harness's Prometheus endpoint: typed methods the harness calls, one registry.

    Usage::

        with Exporter() as exporter:        # serves http://127.0.0.1:9108/metrics
            exporter.observe_stage("silver", "orders", rows_out=990, rows_quarantined=10, seconds=4.2)

    Only harness metrics from `METRICS` can be emitted: each method looks its metric
    up in the catalog, so a misspelt or undeclared name fails at once.
    """

    def __init__(
        self,
        port: int = DEFAULT_EXPORTER_PORT,
        host: str = "127.0.0.1",
        cloudwatch: CloudWatchPublisher | _FromEnv | None = _FROM_ENV,
    ) -> None:
        """Build the collectors; nothing listens until `start`.

        Args:
            port: Where `/metrics` is served (0: any free port).
            host: The address to bind.
            cloudwatch: Also publish the catalog's CloudWatch metrics there; by default a
                publisher only when `LAKELAB_CLOUDWATCH` asks for one (`lakelab.cloudwatch`).
        """
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        if isinstance(cloudwatch, _FromEnv):
            from lakelab.cloudwatch import publisher_from_env

            cloudwatch = publisher_from_env()
        self.cloudwatch = cloudwatch
        self.host = host
        self.requested_port = port
        # Collectors live in a private registry; the served one passes their samples
        # through `_CatalogOnly`, which drops prometheus_client's `*_created` series
        # (names the catalog does not declare) and asserts every family is declared.
        self._collector_registry = CollectorRegistry(auto_describe=True)
        self.registry = CollectorRegistry(auto_describe=False)
        self._catalog_only = _CatalogOnly(self._collector_registry)
        self.registry.register(self._catalog_only)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._collectors: dict[str, Any] = {}
        for metric in METRICS:
            if metric.source is not Source.HARNESS:
                continue
            kwargs: dict[str, Any] = {"labelnames": metric.labels, "registry": self._collector_registry}
            if metric.type is MetricType.COUNTER:
                # prometheus_client appends `_total` itself.
                collector: Any = Counter(metric.name.removesuffix("_total"), metric.help, **kwargs)
            elif metric.type is MetricType.HISTOGRAM:
                collector = Histogram(metric.name, metric.help, buckets=STAGE_SECONDS_BUCKETS, **kwargs)
            else:
                collector = Gauge(metric.name, metric.help, **kwargs)
            self._collectors[metric.name] = collector
        # Counters a rule takes increase() of start at 0, so their first event is seen.
        for outcome in ("ok", "failed"):
            self._metric("lakelab_sweep_runs_total").labels(outcome=outcome)

    def _metric(self, name: str) -> Any:
        assert name in METRICS_BY_NAME, f"{name} is not declared in lakelab.catalog.METRICS"
        assert METRICS_BY_NAME[name].source is Source.HARNESS, f"{name} is not a harness metric"
        return self._collectors[name]

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when started with port 0)."""
        if self._server is None:
            return self.requested_port
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        """The metrics URL Prometheus scrapes."""
        return f"http://{self.host}:{self.port}/metrics"

    def start(self) -> Exporter:
        """Serve `/metrics` on host:port in a daemon thread.

        Raises:
            UserError: The port is taken.
        """
        if self._server is not None:
            return self
        from prometheus_client import start_http_server

        try:
            self._server, self._thread = start_http_server(
                self.requested_port, addr=self.host, registry=self.registry
            )
        except OSError as error:
            raise UserError(
                f"metrics exporter: cannot listen on {self.host}:{self.requested_port} ({error.strerror})"
            ) from None
        return self

    @property
    def scrapes(self) -> int:
        """How many times the metrics were collected (scrapes, plus `exposition` calls)."""
        return self._catalog_only.collections

    def flush(self, timeout_s: float = 35.0) -> bool:
        """Send what CloudWatch has not had yet, and wait for one more scrape when something scrapes.

        A process's last figures (the sweep's final point) would otherwise vanish with it
        before Prometheus saw them. Returns True when a scrape came (or none was expected).
        """
        if self.cloudwatch is not None:
            self.cloudwatch.flush()
        if self._server is None or self.scrapes == 0:
            return True
        seen = self.scrapes
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.scrapes > seen:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop serving (CloudWatch gets what it has not had yet); idempotent."""
        if self.cloudwatch is not None:
            self.cloudwatch.flush()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def exposition(self) -> str:
        """The text Prometheus would scrape now."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")

    def run_started(
        self, run_id: str, git_commit: str, spark_version: str, delta_version: str, target: str
    ) -> None:
        """Label the process's run; replaces any earlier run's info series."""
        info = self._metric("lakelab_run_info")
        info.clear()
        info.labels(
            run_id=run_id,
            git_commit=git_commit,
            spark_version=spark_version,
            delta_version=delta_version,
            target=target,
        ).set(1)

    def observe_stage(
        self, layer: str, table: str, rows_out: int, rows_quarantined: int, seconds: float
    ) -> None:
        """Record one finished pipeline stage (one table of one layer)."""
        if rows_out < 0 or rows_quarantined < 0 or seconds < 0:
            raise ValueError(
                f"stage {layer}/{table}: negative figure (rows_out={rows_out}, "
                f"rows_quarantined={rows_quarantined}, seconds={seconds})"
            )
        stage = {"layer": layer, "table": table}
        self._metric("lakelab_stage_seconds").labels(**stage).observe(seconds)
        self._set("lakelab_stage_last_seconds", stage, seconds)
        for outcome, rows in (("out", rows_out), ("quarantined", rows_quarantined)):
            self._inc("lakelab_stage_rows_total", {**stage, "outcome": outcome}, rows)
            self._set("lakelab_stage_last_rows", {**stage, "outcome": outcome}, rows)
        total = rows_out + rows_quarantined
        per_second = total / seconds if seconds > 0 else 0.0
        self._set("lakelab_records_per_second", stage, per_second)
        # Last, so a rule that picks the latest stage by this time sees its figures complete.
        self._set("lakelab_stage_last_timestamp_seconds", stage, time.time())

    def set_reconciliation(self, ok: bool, check: str = DEFAULT_RECONCILIATION_CHECK) -> None:
        """Record the outcome of a reconciliation check, and when it ran."""
        self._set("lakelab_reconciliation_ok", {"check": check}, 1 if ok else 0)
        self._set("lakelab_reconciliation_last_timestamp_seconds", {"check": check}, time.time())

    def datagen_done(self, table: str, rows: int) -> None:
        """Record rows the generator wrote for one source table."""
        if rows < 0:
            raise ValueError(f"datagen {table}: negative row count {rows}")
        self._inc("lakelab_datagen_rows_total", {"table": table}, rows)

    def sweep_started(self, planned_points: int) -> None:
        """Record how many points (settings x repeats) the sweep will run; no point has failed yet."""
        self._set("lakelab_sweep_points_planned", {}, planned_points)
        self._set("lakelab_sweep_failed_points", {}, 0)

    def sweep_point_done(self, params: Mapping[str, object], seconds: float, ok: bool = True) -> None:
        """Record one finished sweep point; `params` are the Spark settings it ran with."""
        self._inc("lakelab_sweep_runs_total", {"outcome": "ok" if ok else "failed"}, 1)
        if not ok:
            self._metric("lakelab_sweep_failed_points").inc()
        self._set("lakelab_sweep_point_seconds", {"point": point_label(params)}, seconds)
        self._set("lakelab_sweep_last_point_timestamp_seconds", {}, time.time())
        if self.cloudwatch is not None:
            # One CloudWatch call per point, not per figure.
            self.cloudwatch.flush()

    def _set(self, name: str, labels: Mapping[str, str], value: float) -> None:
        collector = self._metric(name)
        (collector.labels(**labels) if labels else collector).set(value)
        self._to_cloudwatch(name, labels, value)

    def _inc(self, name: str, labels: Mapping[str, str], amount: float) -> None:
        self._metric(name).labels(**labels).inc(amount)
        # CloudWatch sums what it is sent per period: a counter goes there as its increments.
        self._to_cloudwatch(name, labels, amount)

    def _to_cloudwatch(self, name: str, labels: Mapping[str, str], value: float) -> None:
        metric = METRICS_BY_NAME[name]
        if self.cloudwatch is not None and metric.cloudwatch_unit:
            self.cloudwatch.add(metric, labels, value)


class _CatalogOnly:
    """A collector serving another registry's harness metrics, minus `*_created` samples.

    It counts collections (one per scrape), so the exporter can tell whether anyone scrapes it.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.collections = 0

    def collect(self) -> Iterator[Any]:
        self.collections += 1
        for family in self._inner.collect():
            declared = family.name + "_total" if family.type == "counter" else family.name
            assert declared in METRICS_BY_NAME, f"{declared} is not declared in lakelab.catalog.METRICS"
            family.samples = [sample for sample in family.samples if not sample.name.endswith("_created")]
            yield family

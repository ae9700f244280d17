"""One strict config: `lakelab.toml` loaded into frozen pydantic models.

Every section is declared by the package that owns it; this module only puts
them together and turns validation failures into one-line `UserError`s that
name the file, the key and the value, before any Spark work starts.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from cluster.config import ClusterConfig
from datagen.config import DatagenConfig
from harness.config import SweepConfig
from lakelab.errors import UserError
from lakelab.model import StrictModel
from pipeline.config import PipelineConfig

DEFAULT_CONFIG_FILE = "lakelab.toml"


class SparkConfig(StrictModel):
    """How to reach Spark: `master` is `local[*]`, `local[N]` or `spark://host:port`."""

    master: str = "local[*]"
    app_name: str = "lakelab"
    # In local mode the executors live in the driver's JVM: 2g ran out of heap at 10M records
    # (Bronze reading back cached blocks while earlier tables' blocks held storage memory).
    driver_memory: str = "4g"
    executor_memory: str = "1g"
    ui_enabled: bool = True
    ui_port: int = Field(default=4040, ge=1024, le=65535)
    log_level: str = "WARN"
    # Spark settings passed through as they are (the harness sweeps these).
    conf: dict[str, str] = Field(default_factory=dict)


class S3Config(StrictModel):
    """An S3-compatible store (MinIO by default). Secrets come from the environment."""

    endpoint: str = "http://127.0.0.1:9000"
    region: str = "us-east-1"
    path_style_access: bool = True
    access_key_env: str = "LAKELAB_S3_ACCESS_KEY"
    secret_key_env: str = "LAKELAB_S3_SECRET_KEY"
    buckets: list[str] = Field(default_factory=lambda: ["lakelab"])


class PathsConfig(StrictModel):
    """Where data lives: a local folder or an `s3a://bucket/prefix`."""

    landing: str = "data/landing"
    warehouse: str = "data/warehouse"
    reports: str = "reports"
    results: str = "reports/results"
    # Root of `lakelab sweep`'s landings (`<sweep>/landing/records-N`) and run warehouses
    # (`<sweep>/warehouses/<sweep id>/run-NNN`); on a cluster, executors must reach it.
    sweep: str = "data/sweep"


class MetricsConfig(StrictModel):
    """The harness's Prometheus exporter, and where a running command registers itself for scraping."""

    # None: no exporter (`--exporter-port` still starts one for a sweep or the demo).
    exporter_port: int | None = Field(default=None, ge=1, le=65535)
    exporter_host: str = "127.0.0.1"
    # A folder Prometheus reads file_sd target files from (`lakelab.targets`); None: register nowhere.
    scrape_targets_dir: str | None = None


class LakelabConfig(StrictModel):
    """The whole config file."""

    spark: SparkConfig = Field(default_factory=SparkConfig)
    s3: S3Config = Field(default_factory=S3Config)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    datagen: DatagenConfig = Field(default_factory=DatagenConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)


def _format_error(source: str, error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}'"
    return f"{source}: {key}: {first['msg']} (got {first['input']!r})"


def parse_config(data: dict[str, Any], source: str = "<config>") -> LakelabConfig:
    """Validate a config mapping; raise `UserError` naming the first bad key."""
    try:
        return LakelabConfig.model_validate(data)
    except ValidationError as error:
        raise UserError(_format_error(source, error)) from None


def load_config(path: str | Path | None = None) -> LakelabConfig:
    """Load `path`, or `./lakelab.toml` when it exists, or the defaults."""
    if path is None:
        default = Path(DEFAULT_CONFIG_FILE)
        if not default.exists():
            return LakelabConfig()
        path = default
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from None
    return parse_config(data, str(path))


def with_overrides(config: LakelabConfig, section: str, **values: Any) -> LakelabConfig:
    """Return a copy with CLI options applied to one section, validated like the file."""
    present = {key: value for key, value in values.items() if value is not None}
    if not present:
        return config
    data = config.model_dump()
    data[section].update(present)
    return parse_config(data, "command line")

"""`run_pipeline`: the public entry point the CLI and the harness call.

Wires the pure transforms (`pipeline.bronze`, `pipeline.silver`, `pipeline.gold`) to the
one I/O module (`pipeline.io`). Imports pyspark only when called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from lakelab.errors import UserError
from lakelab.paths import absolute
from pipeline.config import ALL_LAYERS
from pipeline.result import PipelineError, PipelineRunResult, StageResult

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakelab.config import LakelabConfig

__all__ = ["PipelineError", "PipelineRunResult", "StageResult", "parse_layers", "run_pipeline"]


def parse_layers(layers: Sequence[str] | str | None, default: Sequence[str]) -> tuple[str, ...]:
    """Validate layer names (comma-separated text or a list), in pipeline order."""
    if layers is None:
        names = list(default)
    elif isinstance(layers, str):
        names = [part.strip() for part in layers.split(",") if part.strip()]
    else:
        names = [str(part).strip() for part in layers]
    unknown = [name for name in names if name not in ALL_LAYERS]
    if unknown:
        raise UserError(f"unknown layer '{unknown[0]}' (choose from {', '.join(ALL_LAYERS)})")
    if not names:
        raise UserError("no layer given (choose from bronze, silver, gold)")
    return tuple(layer for layer in ALL_LAYERS if layer in names)


def run_pipeline(
    spark: SparkSession,
    config: LakelabConfig,
    landing: str,
    warehouse: str,
    layers: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PipelineRunResult:
    """Run Bronze → Silver → Gold over the complete, not yet ingested batches of `landing`.

    Args:
        spark: a session from `lakelab.spark.get_session` (Delta configured).
        config: the whole config; `config.pipeline` holds the physical-design choices.
        landing: landing root (local path or `s3a://`), laid out as `lakelab.sources` says.
        warehouse: warehouse root for the Delta tables (local path or `s3a://`).
        layers: subset of `bronze`, `silver`, `gold` (default: `config.pipeline.layers`).
        progress: called with one line per stage as it starts and ends.

    Returns:
        Per-stage rows in/out/quarantined and seconds, and whether Bronze reconciled.

    Raises:
        UserError: missing landing folder, unknown layer.
        PipelineError: reconciliation failed, a `fail` rule fired, revenue not conserved.
    """
    from pipeline.orchestrate import execute

    selected = parse_layers(layers, config.pipeline.layers)
    say = progress or (lambda _line: None)
    return execute(spark, config, absolute(landing), absolute(warehouse), selected, say)

"""What a pipeline run reports: plain data, no Spark."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class PipelineError(Exception):
    """The run stopped because the data broke a promise (reconciliation, a `fail` rule,
    revenue conservation). Not a `UserError`: the input was valid, the outcome is not."""

    exit_code = 1


@dataclass(frozen=True)
class StageResult:
    """One table of one layer in one run."""

    layer: str
    table: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    seconds: float
    batch_from: int | None = None
    batch_to: int | None = None
    detail: str = ""

    @property
    def rows_per_second(self) -> float:
        """Input rows per wall second (0 when nothing was read)."""
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a result record."""
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        return data


@dataclass(frozen=True)
class PipelineRunResult:
    """What `run_pipeline` did: every stage, and whether every Bronze batch reconciled."""

    run_id: str
    stages: list[StageResult] = field(default_factory=list)
    reconciled: bool = True
    layers: tuple[str, ...] = ()
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    # Wall seconds of each layer that ran, its commit included. A layer's stages overlap
    # when it builds tables in parallel (`pipeline.parallel_tables`), so their seconds do
    # not add up to the layer's.
    layer_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a result record."""
        return {
            "run_id": self.run_id,
            "layers": list(self.layers),
            "reconciled": self.reconciled,
            "seconds": round(self.seconds, 3),
            "layer_seconds": {layer: round(s, 3) for layer, s in self.layer_seconds.items()},
            "notes": list(self.notes),
            "stages": [stage.to_dict() for stage in self.stages],
        }

    def layer_totals(self, layer: str) -> StageResult:
        """All tables of one layer summed into one stage; its seconds are the layer's wall
        seconds (the stages' sum only for a result that did not time its layers)."""
        stages = [s for s in self.stages if s.layer == layer]
        return StageResult(
            layer=layer,
            table="*",
            rows_in=sum(s.rows_in for s in stages),
            rows_out=sum(s.rows_out for s in stages),
            rows_quarantined=sum(s.rows_quarantined for s in stages),
            seconds=self.layer_seconds.get(layer, sum(s.seconds for s in stages)),
        )

"""OpenLineage events for what a pipeline run wrote, and the lineage graph read back from them.

One COMPLETE run event per table a run writes (`lakelab.<layer>.<table>`), appended to
`<warehouse>/_ops/lineage/<run id>.jsonl` by openlineage-python's file transport when
`[pipeline] lineage` is on (docs/lineage.md says why not the Spark listener). Datasets are
named `layer.table` in the warehouse's namespace; the Silver and Gold outputs carry a
`columnLineage` facet: Silver's from the contracts' SQL expressions over the Bronze columns,
Gold's from `GOLD_COLUMN_SOURCES` below. Everything but `LineageWriter.emit` is pure.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.paths import is_remote
from lakelab.sources import SOURCE_TABLES, source_table
from pipeline.contracts import (
    BATCH_ID,
    GOLD_COHORT_RETENTION,
    GOLD_CUSTOMER_360,
    GOLD_DAILY_REVENUE,
    GOLD_REVENUE_ATTRIBUTION,
    GOLD_RFM,
    INGESTED_AT,
    RECORD_HASH,
    SOURCE_FILE,
    TableContract,
    bronze_for,
    contract,
)

if TYPE_CHECKING:
    from openlineage.client.client import OpenLineageClient
    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.facet_v2 import column_lineage_dataset

PRODUCER = "https://github.com/lakelab/lakelab/tree/main/pipeline/lineage.py"
JOB_NAMESPACE = "lakelab"
LINEAGE_FOLDER = "_ops/lineage"
# Bronze columns Silver carries unchanged (`pipeline.silver._CARRIED`).
CARRIED = (BATCH_ID, RECORD_HASH, SOURCE_FILE, INGESTED_AT)

# Which Silver columns each Gold column is computed from, and how (OpenLineage's DIRECT
# subtypes: IDENTITY, TRANSFORMATION, AGGREGATION), read off `pipeline.gold`. Columns that
# are constants (an attribution model's name) have no entry. tests/pipeline/test_lineage.py
# checks every name against the contracts.
GoldSources = Mapping[str, tuple[str, tuple[str, ...]]]
GOLD_COLUMN_SOURCES: dict[str, GoldSources] = {
    GOLD_REVENUE_ATTRIBUTION.name: {
        "dimension_value": (
            "TRANSFORMATION",
            (
                "contact.lead_source",
                "opportunity.lead_source",
                "campaign_member.campaign_id",
                "opportunity.campaign_id",
            ),
        ),
        "month": ("TRANSFORMATION", ("orders.dt",)),
        "attributed_revenue_usd": ("AGGREGATION", ("orders.order_total_usd",)),
        "attributed_orders": ("AGGREGATION", ("orders.order_id",)),
    },
    GOLD_CUSTOMER_360.name: {
        "customer_id": ("IDENTITY", ("customers.customer_id",)),
        "customer_name": ("IDENTITY", ("customers.customer_name",)),
        "country_code": ("IDENTITY", ("customers.country_code",)),
        "region": ("IDENTITY", ("customers.region",)),
        "segment": ("IDENTITY", ("customers.segment",)),
        "account_id": ("IDENTITY", ("account.account_id",)),
        "industry": ("IDENTITY", ("account.industry",)),
        "first_order_date": ("AGGREGATION", ("orders.dt",)),
        "last_order_date": ("AGGREGATION", ("orders.dt",)),
        "orders": ("AGGREGATION", ("orders.order_id",)),
        "lifetime_value_usd": ("AGGREGATION", ("orders.order_total_usd",)),
        "average_order_value_usd": ("AGGREGATION", ("orders.order_total_usd", "orders.order_id")),
        "won_opportunities": ("AGGREGATION", ("opportunity.opportunity_id",)),
        "won_opportunity_amount_usd": ("AGGREGATION", ("opportunity.amount_usd",)),
        "campaign_touches": ("AGGREGATION", ("campaign_member.member_id",)),
    },
    GOLD_RFM.name: {
        "customer_id": ("IDENTITY", ("orders.customer_id",)),
        "recency_days": ("AGGREGATION", ("orders.dt",)),
        "frequency": ("AGGREGATION", ("orders.order_id",)),
        "monetary_usd": ("AGGREGATION", ("orders.order_total_usd",)),
        "r_score": ("AGGREGATION", ("orders.dt",)),
        "f_score": ("AGGREGATION", ("orders.order_id",)),
        "m_score": ("AGGREGATION", ("orders.order_total_usd",)),
        "rfm_segment": ("AGGREGATION", ("orders.dt", "orders.order_id")),
    },
    GOLD_COHORT_RETENTION.name: {
        "cohort_month": ("AGGREGATION", ("orders.dt",)),
        "months_since_first": ("TRANSFORMATION", ("orders.dt",)),
        "cohort_size": ("AGGREGATION", ("orders.customer_id",)),
        "active_customers": ("AGGREGATION", ("orders.customer_id",)),
        "retention_rate": ("AGGREGATION", ("orders.customer_id",)),
    },
    GOLD_DAILY_REVENUE.name: {
        "dt": ("IDENTITY", ("orders.dt",)),
        "region": ("TRANSFORMATION", ("customers.region",)),
        "segment": ("TRANSFORMATION", ("customers.segment",)),
        "orders": ("AGGREGATION", ("orders.order_id",)),
        "customers": ("AGGREGATION", ("orders.customer_id",)),
        "revenue_usd": ("AGGREGATION", ("orders.order_total_usd",)),
    },
}
# The Silver tables each Gold table reads (`pipeline.orchestrate._gold_layer`): the revenue
# attribution reads them through the shared order touches.
_TOUCHES = ("orders", "customers", "account", "contact", "campaign_member", "opportunity")
GOLD_INPUTS: dict[str, tuple[str, ...]] = {
    GOLD_REVENUE_ATTRIBUTION.name: _TOUCHES,
    GOLD_CUSTOMER_360.name: _TOUCHES,
    GOLD_RFM.name: ("orders",),
    GOLD_COHORT_RETENTION.name: ("orders",),
    GOLD_DAILY_REVENUE.name: ("orders", "customers"),
}

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_IDENTIFIER = re.compile(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b")


def lineage_folder(warehouse: str, reports: str) -> str:
    """Where a run's events go: `<warehouse>/_ops/lineage`, or `<reports>/lineage` when the
    warehouse is on an object store (the file transport writes local files)."""
    if not is_remote(warehouse):
        return f"{warehouse.rstrip('/')}/{LINEAGE_FOLDER}"
    if not is_remote(reports):
        return str(Path(reports).resolve() / "lineage")
    import tempfile

    return str(Path(tempfile.gettempdir()) / "lakelab-lineage")


def referenced_columns(expression: str, columns: Sequence[str]) -> list[str]:
    """The `columns` a Spark SQL expression names (case-insensitive, as Spark resolves them),
    in the order they are declared; string literals are ignored."""
    wanted = {name.lower(): name for name in columns}
    named = {(quoted or bare).lower() for quoted, bare in _IDENTIFIER.findall(_QUOTED.sub("''", expression))}
    return [wanted[key] for key in wanted if key in named]


def _field(namespace: str, table: str, column: str, subtype: str, masking: bool = False) -> dict[str, Any]:
    transformation: dict[str, Any] = {"type": "DIRECT", "subtype": subtype}
    if masking:
        transformation["masking"] = True
    return {"namespace": namespace, "name": table, "field": column, "transformations": [transformation]}


def silver_column_lineage(table: TableContract, namespace: str) -> dict[str, Any]:
    """A Silver table's `columnLineage` fields: each column from the Bronze columns its
    contract expression reads (IDENTITY when it is one column as is), the carried ones as is."""
    assert table.source is not None, table.qualified_name
    bronze = bronze_for(source_table(table.source))
    bronze_columns = bronze.column_names
    fields: dict[str, Any] = {}
    for column in table.columns:
        if column.expr is None:
            if column.name in CARRIED and column.name in bronze_columns:
                inputs = [_field(namespace, bronze.qualified_name, column.name, "IDENTITY")]
                fields[column.name] = {"inputFields": inputs}
            continue
        read = referenced_columns(column.expr, bronze_columns)
        identity = len(read) == 1 and column.expr.strip().strip("`").lower() == read[0].lower()
        subtype = "IDENTITY" if identity else "TRANSFORMATION"
        masking = column.pii != "none"
        inputs = [_field(namespace, bronze.qualified_name, name, subtype, masking) for name in read]
        if inputs:
            fields[column.name] = {"inputFields": inputs}
    return fields


def gold_column_lineage(table: TableContract, namespace: str) -> dict[str, Any]:
    """A Gold table's `columnLineage` fields, from `GOLD_COLUMN_SOURCES`."""
    fields: dict[str, Any] = {}
    for column, (subtype, sources) in GOLD_COLUMN_SOURCES[table.name].items():
        inputs = []
        for source in sources:
            silver_table, silver_column = source.split(".")
            inputs.append(_field(namespace, f"silver.{silver_table}", silver_column, subtype))
        fields[column] = {"inputFields": inputs}
    return fields


def table_inputs(table: TableContract) -> list[str]:
    """The datasets a table is built from: a landing table, Bronze or Silver tables."""
    if table.layer == "bronze":
        for source in SOURCE_TABLES:
            if bronze_for(source).name == table.name:
                return [f"landing.{source.qualified_name}"]
        return []
    if table.layer == "silver":
        assert table.source is not None, table.qualified_name
        return [bronze_for(source_table(table.source)).qualified_name]
    if table.layer == "gold":
        return [f"silver.{name}" for name in GOLD_INPUTS[table.name]]
    return []


@dataclass(frozen=True)
class WrittenTable:
    """One table a run wrote: what the run log says about it."""

    layer: str
    table: str
    rows_out: int
    batch_from: int | None
    batch_to: int | None


@functools.cache
def _lakelab_run_facet() -> Any:
    """The run facet naming the lakelab pipeline run (its `run_id` in `_ops.run_log`) and batches.

    Built on first use: openlineage-python takes about a second to import, which readers of
    the events (`read_events`, `lineage_graph`) should not pay.
    """
    import attr
    from openlineage.client.facet_v2 import RunFacet

    @attr.define
    class LakelabRunFacet(RunFacet):  # type: ignore[misc]
        pipelineRunId: str  # noqa: N815  (OpenLineage's facet fields are camelCase)
        batchFrom: int | None = attr.field(default=None)  # noqa: N815
        batchTo: int | None = attr.field(default=None)  # noqa: N815

        @staticmethod
        def _get_schema() -> str:
            return "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"

    return LakelabRunFacet


def _column_lineage_facet(fields: dict[str, Any]) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    from openlineage.client.facet_v2 import column_lineage_dataset

    typed = {
        column: column_lineage_dataset.Fields(
            inputFields=[
                column_lineage_dataset.InputField(
                    namespace=source["namespace"],
                    name=source["name"],
                    field=source["field"],
                    transformations=[
                        column_lineage_dataset.Transformation(
                            type=t["type"], subtype=t["subtype"], masking=t.get("masking")
                        )
                        for t in source["transformations"]
                    ],
                )
                for source in spec["inputFields"]
            ]
        )
        for column, spec in fields.items()
    }
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=typed)


def pipeline_parent_run_id(pipeline_run_id: str) -> str:
    """The OpenLineage run id (a UUID) of a whole pipeline run, the parent of its table events."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lakelab-pipeline-run:{pipeline_run_id}"))


def table_event(
    written: WrittenTable,
    pipeline_run_id: str,
    warehouse_namespace: str,
    landing_namespace: str,
    event_time: str,
) -> RunEvent:
    """The COMPLETE run event for one written table."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import output_statistics_output_dataset, parent_run, schema_dataset

    table = contract(f"{written.layer}.{written.table}")
    inputs = [
        InputDataset(
            namespace=landing_namespace if name.startswith("landing.") else warehouse_namespace, name=name
        )
        for name in table_inputs(table)
    ]
    facets: dict[str, Any] = {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=c.name, type=c.type, description=c.description)
                for c in table.columns
            ]
        )
    }
    column_fields: dict[str, Any] = {}
    if table.layer == "silver":
        column_fields = silver_column_lineage(table, warehouse_namespace)
    elif table.layer == "gold":
        column_fields = gold_column_lineage(table, warehouse_namespace)
    if column_fields:
        facets["columnLineage"] = _column_lineage_facet(column_fields)
    output = OutputDataset(
        namespace=warehouse_namespace,
        name=table.qualified_name,
        facets=facets,
        outputFacets={
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=written.rows_out
            )
        },
    )
    run_facets: dict[str, Any] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=pipeline_parent_run_id(pipeline_run_id)),
            job=parent_run.Job(namespace=JOB_NAMESPACE, name="lakelab.pipeline"),
        ),
        "lakelab": _lakelab_run_facet()(
            pipelineRunId=pipeline_run_id, batchFrom=written.batch_from, batchTo=written.batch_to
        ),
    }
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=event_time,
        run=Run(runId=str(uuid.uuid4()), facets=run_facets),
        job=Job(namespace=JOB_NAMESPACE, name=f"lakelab.{table.qualified_name}"),
        producer=PRODUCER,
        inputs=inputs,
        outputs=[output],
    )


def dataset_namespace(root: str) -> str:
    """An OpenLineage namespace for a warehouse or landing root: its URI."""
    if is_remote(root):
        return root.rstrip("/")
    return Path(root).resolve().as_uri()


class LineageWriter:
    """Appends one pipeline run's table events to `<folder>/<run id>.jsonl` with
    openlineage-python's file transport (one JSON event per line)."""

    def __init__(self, folder: str, pipeline_run_id: str, warehouse: str, landing: str) -> None:
        self.path = Path(folder) / f"{pipeline_run_id}.jsonl"
        self.pipeline_run_id = pipeline_run_id
        self.warehouse_namespace = dataset_namespace(warehouse)
        self.landing_namespace = dataset_namespace(landing)
        self._client: OpenLineageClient | None = None
        # Why events could not be written, once that happened (then `emit` writes no more).
        self.error: str | None = None

    def emit(self, written: Iterable[WrittenTable]) -> int:
        """Write one event per table; return how many were written.

        A file that cannot be written sets `error` instead of raising: the tables are
        committed by then, and their lineage is a record of them, not part of them.
        """
        import datetime as dt

        from openlineage.client.client import OpenLineageClient
        from openlineage.client.transport.file import FileConfig, FileTransport

        count = 0
        if self.error is not None:
            return count
        try:
            if self._client is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                transport = FileTransport(FileConfig(log_file_path=str(self.path), append=True))
                self._client = OpenLineageClient(transport=transport)
            for table in written:
                event_time = dt.datetime.now(dt.UTC).isoformat()
                self._client.emit(
                    table_event(
                        table,
                        self.pipeline_run_id,
                        self.warehouse_namespace,
                        self.landing_namespace,
                        event_time,
                    )
                )
                count += 1
        except (OSError, RuntimeError) as error:
            self.error = f"lineage events not written to {self.path}: {error}"
        return count


# --- Reading events back -----------------------------------------------------------------------


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every event in a `.jsonl` file, or in all `*.jsonl` files of a folder (by file name, so
    by run id, which starts with the run's UTC time), in the order written."""
    root = Path(path)
    files = sorted(root.glob("*.jsonl")) if root.is_dir() else [root]
    events: list[dict[str, Any]] = []
    for file in files:
        with file.open(encoding="utf-8") as lines:
            events.extend(json.loads(line) for line in lines if line.strip())
    return events


@dataclass(frozen=True)
class ColumnEdge:
    """`source_table.source_column` feeds `target_table.target_column` (`subtype`: IDENTITY,
    TRANSFORMATION or AGGREGATION)."""

    source_table: str
    source_column: str
    target_table: str
    target_column: str
    subtype: str


def lineage_graph(events: Iterable[Mapping[str, Any]]) -> tuple[list[tuple[str, str]], list[ColumnEdge]]:
    """Table edges `(input, output)` and column edges, each once, sorted, from COMPLETE events.

    Datasets are named as the events name them (`bronze.snowflake_orders`, `silver.orders`,
    `landing.snowflake.orders`).
    """
    tables: set[tuple[str, str]] = set()
    columns: set[ColumnEdge] = set()
    for event in events:
        if event.get("eventType") != "COMPLETE":
            continue
        for output in event.get("outputs", []):
            target = str(output["name"])
            tables.update((str(i["name"]), target) for i in event.get("inputs", []))
            fields = output.get("facets", {}).get("columnLineage", {}).get("fields", {})
            for target_column, spec in fields.items():
                for source in spec.get("inputFields", []):
                    subtypes = [t.get("subtype", "") for t in source.get("transformations") or []]
                    columns.add(
                        ColumnEdge(
                            str(source["name"]),
                            str(source["field"]),
                            target,
                            str(target_column),
                            subtypes[0] if subtypes else "",
                        )
                    )
    order = lambda e: (e.target_table, e.target_column, e.source_table, e.source_column)  # noqa: E731
    return sorted(tables), sorted(columns, key=order)

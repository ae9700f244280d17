"""The analysts' notebooks, executed with nbclient against a small warehouse built here.

The warehouse is built once for the module with the project's own generator and pipeline
(20k records, an initial load and one incremental batch, like the demo's shape). The
committed `.ipynb` outputs come from the larger demo data, so this suite cannot compare
outputs with them: it checks that the committed notebooks hold the current sources and a
run's outputs, and that every notebook runs without a cell error on fresh data.
`make notebooks-check` compares outputs on the demo data (notebooks/README.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lakelab import notebooks
from pipeline.analysis import CONFIG_ENV, WAREHOUSE_ENV

if TYPE_CHECKING:
    from nbformat import NotebookNode
    from pyspark.sql import SparkSession

RECORDS = 20_000
# Seconds one cell may take; a notebook's slowest cell (05's replay) takes a few seconds here.
CELL_TIMEOUT_S = 180
SOURCES = notebooks.notebook_sources()
NOTEBOOK_CONFIG = """\
[spark]
master = "local[2]"
app_name = "lakelab-notebook-tests"
driver_memory = "1g"
ui_enabled = false
log_level = "ERROR"

[spark.conf]
"spark.sql.shuffle.partitions" = "2"
"spark.default.parallelism" = "2"
"spark.databricks.delta.snapshotPartitions" = "2"

[paths]
reports = "{reports}"
"""


def _outputs(notebook: NotebookNode, mime: str) -> list[str]:
    return [
        "".join(output["data"][mime]) if isinstance(output["data"][mime], list) else output["data"][mime]
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if mime in output.get("data", {})
    ]


def _printed(notebook: NotebookNode) -> str:
    return "".join(
        "".join(output["text"])
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    )


@pytest.fixture(scope="module")
def notebook_env(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A generated landing run through the pipeline once; the kernel's environment to read it."""
    from datagen.config import DatagenConfig
    from datagen.generate import generate
    from lakelab.config import parse_config
    from pipeline.run import run_pipeline

    root = tmp_path_factory.mktemp("notebooks")
    landing, warehouse = str(root / "landing"), str(root / "warehouse")
    generate(spark, DatagenConfig(records=RECORDS, batches=1, seed=42), landing)
    result = run_pipeline(spark, parse_config({}, "test"), landing, warehouse)
    assert result.reconciled
    config = root / "lakelab.toml"
    config.write_text(NOTEBOOK_CONFIG.format(reports=root / "reports"), encoding="utf-8")
    return {WAREHOUSE_ENV: warehouse, CONFIG_ENV: str(config)}


@pytest.fixture(scope="module")
def executed(notebook_env: dict[str, str]) -> dict[str, NotebookNode | Exception]:
    """Every notebook run on the fresh warehouse, all at once: each kernel starts its own JVM,
    and their start-ups overlap (nbclient runs one kernel per thread)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(source: Path) -> NotebookNode | Exception:
        try:
            return notebooks.execute(source, env=notebook_env, timeout=CELL_TIMEOUT_S)
        except Exception as error:  # reported by the test of that notebook
            return error

    with ThreadPoolExecutor(len(SOURCES)) as pool:
        return dict(zip([s.name for s in SOURCES], pool.map(run, SOURCES), strict=True))


def test_every_notebook_is_committed_with_its_outputs() -> None:
    assert [s.name for s in SOURCES] == [
        "04_revenue_attribution_crm_snowflake.py",
        "05_customer_segmentation_analysis.py",
        "06_data_lineage_exploration.py",
    ]
    for source in SOURCES:
        assert notebooks.sources_in_sync(source) == [], "run `make notebooks`"
        committed = notebooks.read_notebook(notebooks.paired_notebook(source))
        code = [cell for cell in committed["cells"] if cell["cell_type"] == "code"]
        assert all(cell.get("execution_count") for cell in code), f"{source.name}: not executed"
        errors = [o for cell in code for o in cell["outputs"] if o["output_type"] == "error"]
        assert errors == []
        assert _outputs(committed, "image/png"), f"{source.name}: no plots committed"


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem[:2] for s in SOURCES])
def test_notebook_runs_on_fresh_data(source: Path, executed: dict[str, NotebookNode | Exception]) -> None:
    notebook = executed[source.name]
    if isinstance(notebook, Exception):
        raise notebook

    printed = _printed(notebook)
    assert "warehouse: " in printed
    assert len(_outputs(notebook, "image/png")) >= 2
    # No JVM or Spark console line made it into an output.
    assert "WARN" not in printed
    assert "WARNING" not in printed
    if source.name.startswith("04"):
        assert "every model credits the same total: True" in printed
    if source.name.startswith("05"):
        assert "landing batches in Bronze: [0, 1]" in printed
        assert "customers whose replayed segment differs from gold.rfm_segments: 0" in printed
        assert "kept their segment from batch 0 to 1" in printed
    if source.name.startswith("06"):
        assert "events from 1 pipeline run(s)" in printed
        assert "silver.orders version 0: 0 rows" in printed
        tables = "".join(_outputs(notebook, "text/plain"))
        assert "bronze.snowflake_orders" in tables  # revenue_usd traced back to the delivered columns


def test_no_gold_stops_at_the_first_cell_with_the_command(tmp_path: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    empty = tmp_path / "warehouse"
    empty.mkdir()
    with pytest.raises(CellExecutionError) as raised:
        notebooks.execute(SOURCES[0], env={WAREHOUSE_ENV: str(empty)}, timeout=CELL_TIMEOUT_S)

    assert raised.value.ename == notebooks.MISSING_GOLD_ERROR
    assert raised.value.evalue == (
        f"{empty} has no Gold tables: run `make demo` (or `lakelab demo`) to build them, "
        "or set LAKELAB_WAREHOUSE to a warehouse that has them"
    )
    assert "\n" not in raised.value.evalue
    # What the reader sees in place of a traceback is that one line.
    assert str(raised.value).count("Traceback") == 0

"""Warehouse copies and deletes: shutil for local folders, Hadoop's FileSystem (the JVM's) for URIs.

`file://` URIs take the same JVM code path as `s3a://` ones, so these run it without MinIO.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.storage import copy_tree, remove_tree

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Form = Callable[[Path], str]
LOCAL: Form = str
URI: Form = Path.as_uri


def make_warehouse(root: Path) -> None:
    for relative, text in {
        "bronze/orders/_delta_log/00000.json": "log",
        "bronze/orders/part-0.parquet": "bronze rows",
        "silver/orders/dt=2024-01-01/part-0.parquet": "silver rows",
        "gold/revenue/part-0.parquet": "gold rows",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


def files_under(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in root.rglob("*")
        # Hadoop's local FileSystem writes a .crc beside each file it copies.
        if path.is_file() and not path.name.endswith(".crc")
    }


@pytest.mark.parametrize(
    ("source_form", "target_form"),
    [(LOCAL, LOCAL), (URI, URI), (LOCAL, URI)],
    ids=["local-local", "uri-uri", "local-uri"],
)
def test_copy_leaves_out_skipped_top_level_folders(
    spark: SparkSession, tmp_path: Path, source_form: Form, target_form: Form
) -> None:
    make_warehouse(tmp_path / "source")
    (tmp_path / "source" / "silver" / "gold").mkdir()  # only the top-level "gold" is skipped
    (tmp_path / "source" / "silver" / "gold" / "kept.parquet").write_text("nested")
    target = tmp_path / "copies" / "run-000"
    copy_tree(spark, source_form(tmp_path / "source"), target_form(target), skip=("gold",))
    assert files_under(target) == {
        "bronze/orders/_delta_log/00000.json": "log",
        "bronze/orders/part-0.parquet": "bronze rows",
        "silver/orders/dt=2024-01-01/part-0.parquet": "silver rows",
        "silver/gold/kept.parquet": "nested",
    }
    assert files_under(tmp_path / "source")["gold/revenue/part-0.parquet"] == "gold rows"


@pytest.mark.parametrize("form", [LOCAL, URI], ids=["local", "uri"])
def test_copy_refuses_an_existing_target(spark: SparkSession, tmp_path: Path, form: Form) -> None:
    make_warehouse(tmp_path / "source")
    (tmp_path / "target").mkdir()
    with pytest.raises(FileExistsError):
        copy_tree(spark, form(tmp_path / "source"), form(tmp_path / "target"))
    assert list((tmp_path / "target").iterdir()) == []


@pytest.mark.parametrize("form", [LOCAL, URI], ids=["local", "uri"])
def test_remove_deletes_the_tree_and_a_missing_one_is_fine(
    spark: SparkSession, tmp_path: Path, form: Form
) -> None:
    make_warehouse(tmp_path / "warehouse")
    (tmp_path / "neighbour").mkdir()
    remove_tree(spark, form(tmp_path / "warehouse"))
    assert not (tmp_path / "warehouse").exists()
    assert (tmp_path / "neighbour").is_dir()
    remove_tree(spark, form(tmp_path / "warehouse"))  # already gone: no error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["neighbour"]


def test_a_delta_table_copied_through_hadoop_reads_back_the_same(spark: SparkSession, tmp_path: Path) -> None:
    source = (tmp_path / "warehouse").as_uri()
    spark.range(50).selectExpr("id", "id % 3 AS k").write.format("delta").save(f"{source}/silver/t")
    target = (tmp_path / "copy").as_uri()
    copy_tree(spark, source, target)
    copied = spark.read.format("delta").load(f"{target}/silver/t")
    assert copied.count() == 50
    assert sorted(row["k"] for row in copied.groupBy("k").count().collect()) == [0, 1, 2]

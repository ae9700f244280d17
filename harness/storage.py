"""Removing and copying warehouses wherever they live.

Local folders go through `shutil`, as they always did. Anything written as a URI (`s3a://`,
and `file://` too) goes through Hadoop's FileSystem in the session's JVM, so an object store
is reached with the same S3A client, endpoint and credentials the tables were written with.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakelab.paths import is_uri

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _hadoop_uri(path: str) -> str:
    """A URI as given; a local path as an absolute `file://` URI, for the Hadoop side of a copy."""
    return path if is_uri(path) else Path(path).resolve().as_uri()


def _hadoop(spark: SparkSession, uri: str) -> tuple[Any, Any, Any]:
    """(FileSystem, Path, Configuration) of `uri` in the session's JVM."""
    jvm: Any = spark._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(conf), path, conf


def remove_tree(spark: SparkSession, path: str) -> None:
    """Delete `path` and everything below it; a path that is not there is no error.

    Local folders are removed best effort, like before (a leftover warehouse costs disk,
    not results). A URI's delete that fails raises py4j's error.
    """
    if not is_uri(path):
        shutil.rmtree(path, ignore_errors=True)
        return
    fs, hadoop_path, _conf = _hadoop(spark, path)
    fs.delete(hadoop_path, True)


def copy_tree(spark: SparkSession, source: str, target: str, skip: Collection[str] = ()) -> None:
    """Copy the folder `source` to `target`, which must not exist, leaving out top-level `skip` names.

    Raises:
        FileExistsError: `target` exists.
    """
    if not is_uri(source) and not is_uri(target):
        top = Path(source)
        shutil.copytree(
            source,
            target,
            ignore=lambda folder, names: [n for n in names if n in skip and Path(folder) == top],
        )
        return
    source_fs, source_path, conf = _hadoop(spark, _hadoop_uri(source))
    target_fs, target_path, _conf = _hadoop(spark, _hadoop_uri(target))
    if target_fs.exists(target_path):
        raise FileExistsError(f"{target} exists")
    file_util: Any = spark._jvm.org.apache.hadoop.fs.FileUtil  # type: ignore[union-attr]
    hadoop_path: Any = spark._jvm.org.apache.hadoop.fs.Path  # type: ignore[union-attr]
    target_fs.mkdirs(target_path)
    # Child by child (not one FileUtil.copy of the folder) so `skip` can leave some out.
    for status in source_fs.listStatus(source_path):
        name = str(status.getPath().getName())
        if name in skip:
            continue
        file_util.copy(source_fs, status.getPath(), target_fs, hadoop_path(target_path, name), False, conf)

"""The SparkSession factory: settings per target, and a real Delta round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lakelab import jvm
from lakelab.config import parse_config
from lakelab.errors import UserError
from lakelab.spark import session_conf

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_local_default_has_delta_and_no_s3a() -> None:
    conf = session_conf(parse_config({}))
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "io.delta:delta-spark_4.2_2.13:4.4.0" in conf["spark.jars.packages"].split(",")
    excluded = conf["spark.jars.excludes"].split(",")
    assert "software.amazon.awssdk:bundle" in excluded
    assert "org.apache.hadoop:hadoop-client-runtime" in excluded
    assert not any(key.startswith("spark.hadoop.fs.s3a.") for key in conf)


def test_resolved_jars_replace_the_maven_packages(tmp_path: Path) -> None:
    jar = tmp_path / "jars" / "io.delta_delta-spark_4.2_2.13-4.4.0.jar"
    jar.parent.mkdir()
    jar.write_bytes(b"PK")
    assert jvm.resolved_jars(tmp_path) is None  # no manifest yet: Spark resolves the packages
    assert jvm.write_jars_manifest(tmp_path, f"file://{jar},") == [str(jar)]
    assert jvm.resolved_jars(tmp_path) == [str(jar)]
    conf = session_conf(parse_config({}), jars=[str(jar)])
    assert conf["spark.jars"] == str(jar)
    assert not any(key.startswith("spark.jars.") for key in conf)


def test_a_stale_jar_manifest_is_ignored(tmp_path: Path) -> None:
    jar = tmp_path / "delta.jar"
    jar.write_bytes(b"PK")
    jvm.write_jars_manifest(tmp_path, str(jar))
    manifest = tmp_path / jvm.JARS_MANIFEST
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "packages": ["io.delta:delta-spark_4.2_2.13:4.3.0"]}))
    assert jvm.resolved_jars(tmp_path) is None  # other pins: resolve again
    jvm.write_jars_manifest(tmp_path, str(jar))
    jar.unlink()
    assert jvm.resolved_jars(tmp_path) is None  # a listed jar is gone: resolve again
    manifest.write_text("{not json")
    assert jvm.resolved_jars(tmp_path) is None


def test_s3a_target_takes_endpoint_and_secrets_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKELAB_S3_ACCESS_KEY", "ak")
    monkeypatch.setenv("LAKELAB_S3_SECRET_KEY", "sk")
    config = parse_config(
        {
            "spark": {"master": "spark://127.0.0.1:7077"},
            "paths": {"warehouse": "s3a://lakelab/warehouse"},
            "s3": {"endpoint": "http://127.0.0.1:9100"},
        }
    )
    conf = session_conf(config)
    assert conf["spark.master"] == "spark://127.0.0.1:7077"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9100"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "ak"
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "sk"


def test_s3a_target_without_secrets_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKELAB_S3_ACCESS_KEY", raising=False)
    monkeypatch.delenv("LAKELAB_S3_SECRET_KEY", raising=False)
    config = parse_config({"paths": {"landing": "s3a://lakelab/landing"}})
    with pytest.raises(UserError, match="LAKELAB_S3_ACCESS_KEY and LAKELAB_S3_SECRET_KEY"):
        session_conf(config)


def test_user_conf_wins_over_defaults() -> None:
    config = parse_config({"spark": {"conf": {"spark.sql.session.timeZone": "Europe/Paris"}}})
    assert session_conf(config)["spark.sql.session.timeZone"] == "Europe/Paris"


def test_missing_java_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="Java is missing") as error:
        jvm.java_executable()
    assert "\n" not in str(error.value)


def test_delta_round_trip(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    spark.range(5).write.format("delta").save(path)
    spark.range(5, 8).write.format("delta").mode("append").save(path)
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, path)
    assert sorted(r.id for r in table.toDF().collect()) == list(range(8))
    assert table.history().count() == 2


def test_lab_defaults_apply_where_the_config_is_silent(spark: SparkSession) -> None:
    # The suite's config sets shuffle and snapshot partitions but not VACUUM's listing tasks.
    assert spark.conf.get("spark.sql.sources.parallelPartitionDiscovery.parallelism") == "8"


def test_a_second_get_session_keeps_the_running_sessions_settings(spark: SparkSession) -> None:
    from lakelab.spark import get_session

    # The suite's session runs with 2 shuffle partitions; lakelab's default is 8.
    again = get_session(parse_config({}, "test"))
    assert again is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.databricks.delta.snapshotPartitions") == "2"
    # A setting the caller asks for explicitly still applies.
    get_session(parse_config({"spark": {"conf": {"spark.sql.shuffle.partitions": "3"}}}, "test"))
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    spark.conf.set("spark.sql.shuffle.partitions", "2")

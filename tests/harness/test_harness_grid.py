"""Grid expansion, run order, point planning and sweep-config validation (no Spark)."""

from __future__ import annotations

import pytest

from harness.commands import parse_grid
from harness.config import SweepConfig
from harness.sweep import config_for_point, expand_grid, plan_point, run_order
from lakelab.config import parse_config
from lakelab.errors import UserError
from lakelab.records import point_label


def test_grid_is_the_cartesian_product_first_axis_slowest() -> None:
    grid = {"spark.sql.shuffle.partitions": ["2", "8"], "spark.sql.adaptive.enabled": ["true", "false", "x"]}
    points = expand_grid(grid)
    assert points == [
        {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "true"},
        {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false"},
        {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "x"},
        {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "true"},
        {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "false"},
        {"spark.sql.shuffle.partitions": "8", "spark.sql.adaptive.enabled": "x"},
    ]
    assert point_label(points[4]) == "shuffle.partitions=8, adaptive.enabled=false"


def test_runs_are_interleaved_round_robin_over_scales_and_points() -> None:
    order = [(s.scale, s.point, s.repeat) for s in run_order([10, 20], points=3, repeats=2)]
    assert order == [
        (10, 0, 0), (10, 1, 0), (10, 2, 0), (20, 0, 0), (20, 1, 0), (20, 2, 0),
        (10, 0, 1), (10, 1, 1), (10, 2, 1), (20, 0, 1), (20, 1, 1), (20, 2, 1),
    ]  # fmt: skip
    assert [s.index for s in run_order([10, 20], 3, 2)] == list(range(12))


def test_point_splits_runtime_restart_and_pipeline_settings() -> None:
    settings = {
        "spark.sql.shuffle.partitions": "8",
        "spark.driver.memory": "3g",
        "pipeline.target_file_size_mb": "32",
    }
    plan = plan_point(settings, lambda key: key.startswith("spark.sql."))
    assert plan.runtime_conf == {"spark.sql.shuffle.partitions": "8"}
    assert plan.restart_conf == {"spark.driver.memory": "3g"}
    assert plan.pipeline == {"target_file_size_mb": "32"}
    assert plan.needs_restart


def test_pipeline_values_are_typed_by_the_pipeline_config() -> None:
    config = parse_config({})
    plan = plan_point({"pipeline.target_file_size_mb": "32", "pipeline.zorder": "false"}, lambda _k: True)
    changed = config_for_point(config, plan)
    assert changed.pipeline.target_file_size_mb == 32
    assert changed.pipeline.zorder is False
    assert config.pipeline.zorder is True  # the original is untouched


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"pipeline.no_such_field": "1"}, "'pipeline.no_such_field' is not a [pipeline] setting"),
        ({"pipeline.target_file_size_mb": "big"}, "'pipeline.target_file_size_mb' value 'big'"),
    ],
)
def test_bad_pipeline_axis_is_a_user_error(settings: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as error:
        config_for_point(parse_config({}), plan_point(settings, lambda _k: True))
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [
        ({"grid": {"shuffle.partitions": ["2"]}}, "setting 'shuffle.partitions' is neither a Spark setting"),
        ({"grid": {"spark.sql.shuffle.partitions": []}}, "has an empty list of values"),
        ({"grid": {}}, "needs at least one setting"),
        ({"grid": {"spark.sql.shuffle.partitions": ["2", "2"]}}, "repeats a value"),
        ({"scales": []}, "needs at least one scale"),
        ({"scales": [0]}, "scale 0 is not a positive record count"),
        ({"repeats": 0}, "sweep.repeats"),
        ({"baseline": {"spark.sql.shuffle.partitions": "7"}}, "baseline value '7'"),
        ({"baseline": {"spark.other": "7"}}, "baseline setting 'spark.other'"),
        ({"warmup": -1}, "sweep.warmup"),
        ({"time_limit_s": 0}, "sweep.time_limit_s: Input should be greater than 0"),
        ({"time_limit_s": -5.0}, "sweep.time_limit_s: Input should be greater than 0"),
    ],
)
def test_bad_sweep_config_is_one_line_user_error(sweep: dict[str, object], fragment: str) -> None:
    with pytest.raises(UserError) as error:
        parse_config({"sweep": sweep}, "lakelab.toml")
    message = str(error.value)
    assert message.startswith("lakelab.toml: sweep")
    assert fragment in message
    assert "\n" not in message


def test_a_sweep_warms_up_once_and_has_no_time_limit_by_default() -> None:
    sweep = SweepConfig()
    assert (sweep.warmup, sweep.time_limit_s) == (1, None)
    assert parse_config({"sweep": {"time_limit_s": 90}}).sweep.time_limit_s == 90


def test_baseline_is_first_values_unless_declared() -> None:
    grid = {"spark.sql.shuffle.partitions": ["2", "8"], "spark.sql.adaptive.enabled": ["true", "false"]}
    assert SweepConfig(grid=grid).baseline_point() == {
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.adaptive.enabled": "true",
    }
    declared = SweepConfig(grid=grid, baseline={"spark.sql.shuffle.partitions": "8"})
    assert declared.baseline_point()["spark.sql.shuffle.partitions"] == "8"


def test_set_options_build_a_grid() -> None:
    assert parse_grid(["spark.sql.shuffle.partitions=2,8", "pipeline.zorder=true"]) == {
        "spark.sql.shuffle.partitions": ["2", "8"],
        "pipeline.zorder": ["true"],
    }
    with pytest.raises(UserError, match="is not KEY=V1,V2"):
        parse_grid(["spark.sql.shuffle.partitions"])

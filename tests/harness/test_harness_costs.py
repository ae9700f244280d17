"""The deployment cost model: a strict, dated price file and each service's billing rules."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.costs import PRICE_FILE, load_prices, monthly, run_cost
from lakelab.errors import UserError


def test_the_committed_price_file_is_complete_and_dated() -> None:
    prices = load_prices()
    assert prices.region == "us-east-1"
    assert prices.usd("glue_dpu_hour") == 0.44 and prices.usd("emr_serverless_vcpu_hour") == 0.052624
    assert all(price.source.startswith("https://aws.amazon.com/") for price in prices.prices.values())
    assert all(price.checked == "2026-11-27" for price in prices.prices.values())


def _with(tmp_path: Path, old: str, new: str) -> Path:
    text = PRICE_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "prices.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[prices.glue_dpu_hour]", "[prices.glue_dpu_hours]", "missing glue_dpu_hour"),
        ("usd = 0.44", "usd = -0.44", "prices.glue_dpu_hour.usd: Input should be greater than or equal to 0"),
        ('confidence = "high"', 'confidence = "sure"', "confidence"),
        ('region = "us-east-1"', 'region = "us-east-1"\ncurrency = "EUR"', "currency: Extra inputs"),
        ('region = "us-east-1"', "region = ", "not TOML"),
    ],
)
def test_a_bad_price_file_is_one_line_naming_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(UserError, match=r"prices\.toml") as raised:
        load_prices(_with(tmp_path, old, new))
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_each_service_bills_its_own_way() -> None:
    prices = load_prices()
    # 200 s on 2 cores: one m5.xlarge; Glue's 2-DPU minimum; Serverless 2 vCPU + 8 GB.
    cost = run_cost(prices, 200, 2, 20e9, 4000, 1_000_000, 300_000_000_000)
    hours = 200 / 3600
    assert cost.emr_ec2 == pytest.approx(1 * hours * (0.192 + 0.048))
    assert cost.emr_serverless == pytest.approx(hours * (2 * 0.052624 + 8 * 0.0057785))
    assert cost.glue == pytest.approx(2 * hours * 0.44)
    assert cost.storage_month == pytest.approx(20 * 0.023)
    assert cost.put_requests == pytest.approx(4 * 0.005)
    assert cost.per_million_records(cost.emr_ec2) == pytest.approx(cost.emr_ec2)
    assert cost.per_tb_read(cost.glue) == pytest.approx(cost.glue / 0.3)
    # Nine cores: three instances, three DPUs.
    wide = run_cost(prices, 3600, 9, 0, 0, 1, 0)
    assert wide.emr_ec2 == pytest.approx(3 * 0.24) and wide.glue == pytest.approx(3 * 0.44)
    assert math.isnan(wide.per_tb_read(wide.glue))  # the landing's size is unknown


def test_a_short_run_pays_the_one_minute_minimum() -> None:
    prices = load_prices()
    assert run_cost(prices, 5, 4, 0, 0, 1, 0).emr_ec2 == pytest.approx(
        run_cost(prices, 60, 4, 0, 0, 1, 0).emr_ec2
    )
    with pytest.raises(ValueError, match="cannot be priced"):
        run_cost(prices, 10, 0, 0, 0, 1, 0)


def test_a_month_scales_runs_and_keeps_the_retention_of_storage() -> None:
    cost = run_cost(load_prices(), 3600, 4, 1e9, 1000, 1_000_000, 0)
    month = monthly(cost, runs_per_day=10, retention_months=3)
    assert month["emr_ec2"] == pytest.approx(cost.emr_ec2 * 300)
    assert month["storage"] == pytest.approx(0.023 * 300 * 3)

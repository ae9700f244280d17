"""What a measured run would cost on AWS's Spark offerings, from a dated price file (pure).

The harness measures wall seconds, the cores Spark held, the bytes and data files a run
wrote and the landing it read; `harness/prices.toml` holds list prices with their source and
date. Each deployment bills what it bills:

- **EMR on EC2** (m5.xlarge: 4 vCPU, 16 GiB): whole instances for the run's wall time, EC2
  plus the EMR charge, per second with a one-minute minimum.
- **EMR Serverless**: vCPU-hours and GB-hours of the workers, per second with a one-minute
  minimum; memory is assumed at 4 GB per vCPU (Serverless's default worker, 4 vCPU/16 GB).
- **Glue**: DPUs (4 vCPU, 16 GB each) for the wall time, at least 2 DPUs for a Spark job,
  per second with a one-minute minimum.
- **S3**: one month of the bytes the run wrote, and a PUT per data file written. Reads
  (GET requests) are not measured by the harness, so they are not priced: the table says so.

A local run on 2 cores is not a cluster run: the estimate prices the same core-seconds on
each service, which is what the sweeps can compare, not a quote.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from lakelab.errors import UserError
from lakelab.model import StrictModel

PRICE_FILE = Path(__file__).with_name("prices.toml")
MINIMUM_BILLED_SECONDS = 60
VCPUS_PER_INSTANCE = 4  # m5.xlarge
VCPUS_PER_DPU = 4
GLUE_MINIMUM_DPUS = 2
GB_PER_VCPU = 4.0
PRICE_KEYS = (
    "emr_ec2_instance_hour",
    "emr_uplift_instance_hour",
    "emr_serverless_vcpu_hour",
    "emr_serverless_gb_hour",
    "glue_dpu_hour",
    "s3_gb_month",
    "s3_put_1000",
    "s3_get_1000",
)


class Price(StrictModel):
    """One list price, where it came from and when."""

    usd: float = Field(ge=0)
    unit: str
    source: str
    checked: str
    confidence: Literal["high", "medium", "low"]


class PriceFile(StrictModel):
    """`harness/prices.toml`: every price the model needs, none it does not know."""

    region: str
    checked: str
    prices: dict[str, Price]

    def usd(self, key: str) -> float:
        return self.prices[key].usd


def load_prices(path: str | Path = PRICE_FILE) -> PriceFile:
    """The price file, checked: a missing or unknown price, or a bad value, is a one-line UserError."""
    try:
        with Path(path).open("rb") as handle:
            raw = tomllib.load(handle)
        prices = PriceFile.model_validate(raw)
    except OSError as error:
        raise UserError(f"{path}: cannot read the price file ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not TOML ({error})") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(f"{path}: {where}: {first['msg']}") from None
    missing = [key for key in PRICE_KEYS if key not in prices.prices]
    unknown = [key for key in prices.prices if key not in PRICE_KEYS]
    if missing or unknown:
        problem = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UserError(f"{path}: prices: {problem} (expected {', '.join(PRICE_KEYS)})")
    return prices


@dataclass(frozen=True)
class RunCost:
    """One run on each deployment, in USD, and what it is per million records and per TB read."""

    emr_ec2: float
    emr_serverless: float
    glue: float
    storage_month: float
    put_requests: float
    records: int
    input_bytes: int

    def per_million_records(self, compute: float) -> float:
        return compute / (self.records / 1e6) if self.records else math.nan

    def per_tb_read(self, compute: float) -> float:
        """Compute per TB of landing read (decimal TB); NaN when the landing size is unknown."""
        return compute / (self.input_bytes / 1e12) if self.input_bytes else math.nan


def _billed_hours(seconds: float) -> float:
    return max(seconds, MINIMUM_BILLED_SECONDS) / 3600


def run_cost(
    prices: PriceFile,
    wall_seconds: float,
    cores: int,
    output_bytes: float,
    output_files: float,
    records: int,
    input_bytes: int,
) -> RunCost:
    """One run's cost on each deployment, holding `cores` vCPUs for `wall_seconds`."""
    if wall_seconds < 0 or cores < 1:
        raise ValueError(f"a run of {wall_seconds} s on {cores} cores cannot be priced")
    hours = _billed_hours(wall_seconds)
    instances = math.ceil(cores / VCPUS_PER_INSTANCE)
    instance_hour = prices.usd("emr_ec2_instance_hour") + prices.usd("emr_uplift_instance_hour")
    emr_ec2 = instances * hours * instance_hour
    serverless = (
        cores
        * hours
        * (prices.usd("emr_serverless_vcpu_hour") + GB_PER_VCPU * prices.usd("emr_serverless_gb_hour"))
    )
    dpus = max(GLUE_MINIMUM_DPUS, math.ceil(cores / VCPUS_PER_DPU))
    glue = dpus * hours * prices.usd("glue_dpu_hour")
    storage = output_bytes / 1e9 * prices.usd("s3_gb_month")
    puts = output_files / 1000 * prices.usd("s3_put_1000")
    return RunCost(emr_ec2, serverless, glue, storage, puts, records, input_bytes)


def monthly(cost: RunCost, runs_per_day: float, retention_months: float = 1.0) -> dict[str, float]:
    """A month (30 days) of `runs_per_day` such runs, by component, each deployment's compute
    apart; storage holds `retention_months` of output at any time (steady state)."""
    days = 30
    return {
        "emr_ec2": cost.emr_ec2 * runs_per_day * days,
        "emr_serverless": cost.emr_serverless * runs_per_day * days,
        "glue": cost.glue * runs_per_day * days,
        "storage": cost.storage_month * runs_per_day * days * retention_months,
        "put_requests": cost.put_requests * runs_per_day * days,
    }

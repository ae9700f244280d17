"""Spark column expressions the table builders share: hashing, pools, skew, time.

Every random choice is a hash of (seed, salt, row columns), so any row can be rebuilt
alone, on any executor, in any order, and the same seed gives the same rows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import functions as F  # noqa: N812  (the Spark convention)

if TYPE_CHECKING:
    from pyspark.sql import Column

TWO_POW_53 = float(2**53)


def hash64(seed: int, salt: str, *cols: Column) -> Column:
    """A 64-bit hash of the seed, a salt naming the choice, and the row's columns.

    Seed and salt are folded into one long in Python, so each row hashes two or three
    longs rather than a string.
    """
    digest = hashlib.sha256(f"{seed}|{salt}".encode()).digest()
    return F.xxhash64(F.lit(int.from_bytes(digest[:8], "big", signed=True)), *cols)


def uniform(seed: int, salt: str, *cols: Column) -> Column:
    """A uniform double in [0, 1)."""
    return F.shiftrightunsigned(hash64(seed, salt, *cols), 11).cast("double") / F.lit(TWO_POW_53)


def pick_index(n: int | Column, seed: int, salt: str, *cols: Column) -> Column:
    """A uniform integer in [0, n)."""
    bound = n if not isinstance(n, int) else F.lit(n).cast("long")
    return F.pmod(hash64(seed, salt, *cols), bound)


@dataclass(frozen=True)
class PoolRef:
    """A value pool as one constant array expression, built once per run and shared.

    Spark folds the array into a single literal that generated code references, so a
    pick is an array index. (A broadcast one-row frame of arrays joined to every row was
    tried first: the join copied the arrays into each row and ran 3-4x slower.)
    """

    name: str
    size: int
    array: Column


def sql_string(value: str) -> str:
    """A Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pool_array(values: Sequence[str]) -> Column:
    """The constant array of `values`, built with one call into the JVM, not one per value."""
    return F.expr("array(" + ", ".join(sql_string(v) for v in values) + ")")


def pick(pool: PoolRef, seed: int, salt: str, *cols: Column) -> Column:
    """One value of `pool`, chosen by hash."""
    return pool_at(pool, pick_index(pool.size, seed, salt, *cols))


def pool_at(pool: PoolRef, index: Column) -> Column:
    """`pool[index]` for a zero-based index column."""
    return F.element_at(pool.array, (index + 1).cast("int"))


def skewed_index(n: Column, power: float, seed: int, salt: str, *cols: Column) -> Column:
    """An integer in [0, n) where low values are far more likely (u**power, Zipf-like)."""
    return F.least(F.floor(F.pow(uniform(seed, salt, *cols), F.lit(power)) * n).cast("long"), n - 1)


def lognormal(mu: float, sigma: float, seed: int, salt: str, *cols: Column) -> Column:
    """exp(mu + sigma * z) with z standard normal (Box-Muller): a long-tailed amount."""
    u1 = F.greatest(uniform(seed, salt + ":u1", *cols), F.lit(1e-12))
    u2 = uniform(seed, salt + ":u2", *cols)
    z = F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)
    return F.exp(F.lit(mu) + F.lit(sigma) * z)


def sf_id(prefix: str, entity: Column) -> Column:
    """An 18-character Salesforce-looking id: 3-character key prefix + base-36 number."""
    return F.concat(F.lit(prefix), F.lpad(F.upper(F.conv(entity.cast("string"), 10, 36)), 15, "0"))


def seasonal(fraction: Column, years: float, amplitude: float = 0.5) -> Column:
    """Bend a uniform fraction of the date range so that each year's turn is busier.

    f - a*sin(2πfY)/(2πY) is monotone for a < 1 and has its highest density where
    cos(2πfY) = 1, i.e. at the start/end of every year of the range (Q4/Q1 peaks).
    """
    if years <= 0:
        return fraction
    k = 2 * math.pi * years
    return fraction - F.lit(amplitude / k) * F.sin(F.lit(k) * fraction)


def sf_datetime(seconds: Column) -> Column:
    """Epoch seconds as Salesforce's ISO-8601 form, e.g. 2024-03-05T10:11:12.000+0000."""
    return F.date_format(F.timestamp_seconds(seconds), "yyyy-MM-dd'T'HH:mm:ss.SSS'+0000'")


def iso_date(seconds: Column) -> Column:
    """Epoch seconds as YYYY-MM-DD."""
    return F.date_format(F.timestamp_seconds(seconds), "yyyy-MM-dd")

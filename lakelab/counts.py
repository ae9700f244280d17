"""The one parser of record counts on the command line (`--records`, `--scales`)."""

from __future__ import annotations

import re
from decimal import Decimal

from lakelab.errors import UserError

_SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_COUNT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmb]?)\s*", re.IGNORECASE)


def parse_count(text: str, option: str) -> int:
    """`100k`, `1M`, `2.5k`, `1_000_000` → an int > 0; anything else is a one-line UserError.

    A count is a whole number of records: `1.5` or `1.0005k` is an error, never rounded.
    The arithmetic is decimal, so `1.1k` is 1,100 exactly (a float would make it 1100.0000000000002).
    """
    match = _COUNT.fullmatch(text.replace("_", ""))
    if not match:
        raise UserError(f"{option}: {text!r} is not a record count (use e.g. 100k, 1M, 10M or 1_000_000)")
    value = Decimal(match.group(1)) * _SUFFIXES[match.group(2).lower()]
    if value <= 0 or value != value.to_integral_value():
        raise UserError(f"{option}: {text!r} is not a positive whole number of records")
    return int(value)

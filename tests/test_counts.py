"""Record counts on the command line: one parser for --records and --scales."""

from __future__ import annotations

import pytest

from datagen.cli import parse_records
from lakelab.counts import parse_count
from lakelab.errors import UserError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100k", 100_000),
        ("1M", 1_000_000),
        ("10m", 10_000_000),
        ("1_000_000", 1_000_000),
        ("2.5k", 2_500),
        ("1.1k", 1_100),  # a float would make this 1100.0000000000002, not a whole number
        ("1.5M", 1_500_000),
        (" 7 ", 7),
        ("2b", 2_000_000_000),
    ],
)
def test_counts_parse(text: str, value: int) -> None:
    assert parse_count(text, "--scales") == value


@pytest.mark.parametrize("text", ["0", "0k", "-5", "ten", "1.5", "1.0005k", "1.5x", "", "1e6", "1,000"])
def test_bad_counts_are_one_line_errors_naming_the_option_and_value(text: str) -> None:
    with pytest.raises(UserError, match="--scales") as raised:
        parse_count(text, "--scales")
    assert repr(text) in str(raised.value) and "\n" not in str(raised.value)


def test_generate_and_the_benchmarks_use_the_same_parser() -> None:
    # `1.5` was rounded down to 1 record by generate's old parser.
    with pytest.raises(UserError, match=r"--records: '1\.5' is not a positive whole number"):
        parse_records("1.5")
    assert parse_records("1.1k") == 1_100

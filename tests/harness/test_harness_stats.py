"""Ratios of medians with bootstrap intervals: verdicts that follow the data, not the noise."""

from __future__ import annotations

import pytest

from harness.stats import (
    FASTER,
    NOT_ESTABLISHED,
    SLOWER,
    format_estimate,
    ratio_of_medians,
)

OLD = [10.0, 10.4, 9.8, 10.2, 10.1]
HALF = [5.0, 5.2, 4.9, 5.1, 5.05]


def test_clearly_separated_samples_are_faster_with_an_interval_below_one() -> None:
    estimate = ratio_of_medians(HALF, OLD)
    assert estimate.ratio == pytest.approx(0.5)
    assert estimate.verdict == FASTER
    assert estimate.low is not None and estimate.high is not None
    assert 0.47 < estimate.low <= 0.5 <= estimate.high < 0.53
    assert (estimate.runs, estimate.baseline_runs) == (5, 5)
    assert not estimate.slower_beyond(0.0)


def test_clearly_separated_samples_the_other_way_are_slower() -> None:
    estimate = ratio_of_medians(OLD, HALF)
    assert estimate.ratio == pytest.approx(2.0)
    assert estimate.verdict == SLOWER
    assert estimate.low is not None and estimate.low > 1.9
    assert estimate.slower_beyond(0.05)
    assert estimate.slower_beyond(0.85)
    assert not estimate.slower_beyond(1.5)


def test_identical_distributions_are_not_established() -> None:
    reordered = [10.2, 9.8, 10.1, 10.4, 10.0]
    estimate = ratio_of_medians(reordered, OLD)
    assert estimate.ratio == pytest.approx(1.0)
    assert estimate.verdict == NOT_ESTABLISHED
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < 1.0 < estimate.high
    assert not estimate.slower_beyond(0.0)


def test_overlapping_noisy_samples_are_not_established() -> None:
    # The median is 18% lower, but one slow repeat keeps the two ranges overlapping.
    estimate = ratio_of_medians([8.0, 8.2, 13.0], [10.0, 10.1, 9.0])
    assert estimate.ratio == pytest.approx(0.82)
    assert estimate.verdict == NOT_ESTABLISHED


def test_one_repeat_has_no_interval() -> None:
    estimate = ratio_of_medians([5.0], OLD)
    assert estimate.ratio == pytest.approx(5.0 / 10.1)
    assert (estimate.low, estimate.high) == (None, None)
    assert estimate.verdict == NOT_ESTABLISHED
    assert not estimate.slower_beyond(0.0)
    assert format_estimate(estimate) == "not established (0.50× the time, n=1 vs 5; needs 3+ repeats)"
    assert ratio_of_medians([20.0], [10.0]).verdict == NOT_ESTABLISHED


def test_two_repeats_establish_nothing_however_far_apart() -> None:
    # A median of two resamples to three values: its "interval" would be the runs' range.
    estimate = ratio_of_medians([5.0, 5.1], [10.0, 10.2])
    assert estimate.verdict == NOT_ESTABLISHED and estimate.low is None
    assert format_estimate(estimate).endswith("n=2; needs 3+ repeats)")
    assert ratio_of_medians([5.0, 5.1, 5.2], [10.0, 10.2, 10.1]).verdict == FASTER


def test_three_repeats_give_the_ranges_rule() -> None:
    # A median of 3 resampled is one of the 3 values, and min/max has a ~7% chance,
    # so the 95% percentile interval is [min/max, max/min] of the two samples.
    estimate = ratio_of_medians([5.0, 5.5, 6.0], [10.0, 11.0, 12.0])
    assert estimate.ratio == pytest.approx(0.5)
    assert estimate.low == pytest.approx(5.0 / 12.0)
    assert estimate.high == pytest.approx(6.0 / 10.0)
    assert format_estimate(estimate) == "2.00× faster (95% CI 1.67–2.40, n=3)"


def test_formatter_lines_for_slower_and_open_questions() -> None:
    slower = ratio_of_medians([15.0, 16.0, 17.0], [10.0, 10.5, 11.0])
    assert format_estimate(slower) == "1.52× slower (95% CI 1.36–1.70, n=3)"
    open_question = ratio_of_medians([9.0, 10.0, 12.0], [10.0, 10.5, 11.0])
    assert format_estimate(open_question) == "not established (95% CI 0.82–1.20, n=3)"


def test_the_interval_is_deterministic() -> None:
    first = ratio_of_medians([5.0, 6.1, 5.4, 7.0], [6.0, 6.5, 5.9, 7.2])
    second = ratio_of_medians([5.0, 6.1, 5.4, 7.0], [6.0, 6.5, 5.9, 7.2])
    assert first == second


def test_empty_zero_and_negative_timings() -> None:
    empty = ratio_of_medians([], OLD)
    assert (empty.ratio, empty.verdict, empty.runs) == (None, NOT_ESTABLISHED, 0)
    assert format_estimate(empty) == "not established (no ratio, n=0 vs 5)"
    zero = ratio_of_medians([1.0, 1.0], [0.0, 2.0])
    assert (zero.ratio, zero.verdict) == (None, NOT_ESTABLISHED)
    with pytest.raises(ValueError, match=r"-1\.0 seconds"):
        ratio_of_medians([-1.0, 2.0], OLD)
    with pytest.raises(ValueError, match="nan"):
        ratio_of_medians([1.0, 2.0], [float("nan"), 1.0])

"""Step mode: the plan of users per step and each step's verdict (pure)."""

from __future__ import annotations

import pytest

from loadtest.shape import StepPlan, step_verdict


def plan(**changes: object) -> StepPlan:
    values: dict[str, object] = {
        "users": 2,
        "seconds": 30.0,
        "max_users": 7,
        "p95_ms": 1000.0,
        "failure_ratio": 0.01,
    }
    return StepPlan(**{**values, **changes})  # type: ignore[arg-type]


def test_users_grow_by_a_step_until_the_most() -> None:
    steps = plan()
    assert steps.steps == 4
    assert [steps.users_at(k) for k in range(5)] == [2, 4, 6, 7, None]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": 0}, "0 users per step"),
        ({"seconds": 0.0}, "a step of 0 s"),
        ({"max_users": 1}, "at most 1 users, fewer than one step of 2: no step"),
        ({"p95_ms": 0.0}, "--p95-limit-ms 0"),
        ({"failure_ratio": 1.0}, "--failure-limit 1"),
    ],
)
def test_a_plan_with_no_step_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(**changes)


def test_a_step_within_the_limits_goes_on_unless_it_is_the_last() -> None:
    verdict = step_verdict(plan(), users=4, requests=200, failures=2, p95_ms=999.0, last=False)
    assert verdict == {
        "users": 4,
        "requests": 200,
        "failures": 2,
        "failure_ratio": 0.01,
        "p95_ms": 999.0,
        "saturated": False,
        "reason": "",
        "stop": False,
    }
    assert step_verdict(plan(), 7, 200, 0, 10.0, last=True)["stop"] is True


def test_the_first_limit_crossed_is_the_saturation_point_and_says_why() -> None:
    slow = step_verdict(plan(), 6, 100, 5, 1500.0, last=False)
    assert slow["saturated"] and slow["stop"]
    assert (
        slow["reason"] == "p95 1500 ms over the limit of 1000 ms; failure ratio 0.050 over the limit of 0.010"
    )
    idle = step_verdict(plan(), 2, 0, 0, 0.0, last=False)
    assert idle["saturated"] and idle["reason"] == "no request finished during the step"

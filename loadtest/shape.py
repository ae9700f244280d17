"""Step mode's plan and its verdict on each step (pure; the Locust shape in `locustfile.py` uses them).

Step k (from 0) runs `users * (k + 1)` users, at most `max_users`, for `seconds`. At the end
of each step its p95 latency (Locust's current window) and its failure ratio (failures over
requests made during the step) are compared with the limits: the first step over either is
the saturation point, and the test stops there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepPlan:
    """Users added per step, each step's length, the most users, and the limits that stop it."""

    users: int
    seconds: float
    max_users: int
    p95_ms: float
    failure_ratio: float
    out: str = ""

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError(f"--step: {self.users} users per step; needs at least 1")
        if self.seconds <= 0:
            raise ValueError(f"--step: a step of {self.seconds:g} s; needs more than 0")
        if self.max_users < self.users:
            raise ValueError(
                f"--step: at most {self.max_users} users, fewer than one step of {self.users}: no step"
            )
        if self.p95_ms <= 0:
            raise ValueError(f"--p95-limit-ms {self.p95_ms:g}: needs more than 0")
        if not 0 <= self.failure_ratio < 1:
            raise ValueError(f"--failure-limit {self.failure_ratio:g}: needs 0 or more and below 1")

    @property
    def steps(self) -> int:
        """How many steps the plan has (the last one may add fewer users)."""
        return -(-self.max_users // self.users)

    def users_at(self, step: int) -> int | None:
        """Users during step `step`, or None past the last step."""
        if step >= self.steps:
            return None
        return min(self.users * (step + 1), self.max_users)


def step_verdict(
    plan: StepPlan, users: int, requests: int, failures: int, p95_ms: float, last: bool
) -> dict[str, Any]:
    """One finished step's figures, and whether the test stops after it and why."""
    ratio = failures / requests if requests else 0.0
    reasons = []
    if requests == 0:
        reasons.append("no request finished during the step")
    if p95_ms > plan.p95_ms:
        reasons.append(f"p95 {p95_ms:.0f} ms over the limit of {plan.p95_ms:.0f} ms")
    if ratio > plan.failure_ratio:
        reasons.append(f"failure ratio {ratio:.3f} over the limit of {plan.failure_ratio:.3f}")
    return {
        "users": users,
        "requests": requests,
        "failures": failures,
        "failure_ratio": ratio,
        "p95_ms": p95_ms,
        "saturated": bool(reasons),
        "reason": "; ".join(reasons),
        "stop": bool(reasons) or last,
    }

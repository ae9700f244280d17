"""The generated Grafana dashboards against Grafana's dashboard schema.

No Grafana server runs here (docs/MONITORING_SETUP.md), so the check is the schema Grafana
publishes as code: `grafana-foundation-sdk` (pinned in pyproject.toml; its version is a build
timestamp and an unpinned install resolves to an old Grafana 10.1 build) holds the dashboard,
panel, field-config and Prometheus-query models generated from Grafana's own schema. A
dashboard passes when decoding it with those models and encoding it again changes nothing
(every key is one the schema declares, at every level), and every value has the type the
schema gives it, enum fields holding one of the enum's values.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

import pytest

from lakelab.dashboards import render_dashboard
from lakelab.metrics import DASHBOARDS

sdk = pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk is a dev dependency")

from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.cog.plugins import register_default_plugins  # noqa: E402
from grafana_foundation_sdk.models.dashboard import Dashboard as SchemaDashboard  # noqa: E402

register_default_plugins()


def _lost_keys(original: Any, decoded: Any, path: str) -> list[str]:
    """Where `decoded` (the schema's round trip) differs from `original`."""
    if isinstance(original, dict) and isinstance(decoded, dict):
        problems = [f"{path}/{key}: not in the schema" for key in original if key not in decoded]
        for key in original.keys() & decoded.keys():
            problems += _lost_keys(original[key], decoded[key], f"{path}/{key}")
        return problems
    if isinstance(original, list) and isinstance(decoded, list) and len(original) == len(decoded):
        return [
            problem
            for index, (item, back) in enumerate(zip(original, decoded, strict=True))
            for problem in _lost_keys(item, back, f"{path}[{index}]")
        ]
    return [] if original == decoded else [f"{path}: {original!r} came back as {decoded!r}"]


_PRIMITIVES = (bool, int, float, str)


def _allowed(hint: Any) -> list[Any]:
    """The alternatives of a type hint (Optional and Union flattened)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return [alternative for arg in typing.get_args(hint) for alternative in _allowed(arg)]
    return [hint]


def _value_problems(value: Any, hint: Any, path: str) -> list[str]:
    alternatives = [alternative for alternative in _allowed(hint) if alternative is not type(None)]
    enums = [alt for alt in alternatives if isinstance(alt, type) and issubclass(alt, enum.Enum)]
    for enum_type in enums:
        if isinstance(value, enum_type) or value in {member.value for member in enum_type}:
            return []
    if enums and not any(alt in _PRIMITIVES for alt in alternatives):
        allowed = sorted(str(member.value) for enum_type in enums for member in enum_type)
        return [f"{path}: {value!r} is not one of {allowed}"]
    primitives = [alt for alt in alternatives if alt in _PRIMITIVES]
    if primitives and len(primitives) == len(alternatives):
        # JSON has one number type: an int is a valid float, but a bool is no number.
        ok = any(
            isinstance(value, alt) and not (alt in (int, float) and isinstance(value, bool))
            for alt in primitives
        ) or (float in primitives and isinstance(value, int) and not isinstance(value, bool))
        return [] if ok else [f"{path}: {value!r} is not {' or '.join(p.__name__ for p in primitives)}"]
    if isinstance(value, list):
        item_hints = [typing.get_args(alt)[0] for alt in alternatives if typing.get_origin(alt) is list]
        if item_hints:
            return [
                problem
                for index, item in enumerate(value)
                for problem in _value_problems(item, item_hints[0], f"{path}[{index}]")
            ]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _model_problems(value, path)
    return []


def _model_problems(model: Any, path: str = "") -> list[str]:
    """Values of a decoded schema object whose type or enum value the schema does not allow."""
    hints = typing.get_type_hints(type(model))
    problems = []
    for name, hint in hints.items():
        value = getattr(model, name, None)
        if value is not None:
            problems += _value_problems(value, hint, f"{path}/{name}")
    return problems


def schema_problems(dashboard: dict[str, Any]) -> list[str]:
    """Everything in a dashboard's JSON that Grafana's dashboard schema does not accept."""
    decoded = SchemaDashboard.from_json(dashboard)
    round_trip = json.loads(json.dumps(decoded, cls=JSONEncoder))
    return _lost_keys(dashboard, round_trip, "") + _model_problems(decoded)


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda dashboard: dashboard.uid)
def test_generated_dashboard_matches_grafanas_schema(dashboard: Any) -> None:
    rendered = render_dashboard(dashboard)
    assert schema_problems(rendered) == []
    # The panels decode as the kinds they claim, with Prometheus queries: not generic fallbacks.
    decoded = SchemaDashboard.from_json(rendered)
    assert decoded.panels is not None and len(decoded.panels) == len(dashboard.panels)
    for panel in decoded.panels:
        if panel.options is not None:
            assert type(panel.options).__module__ == f"grafana_foundation_sdk.models.{panel.type_val}"
        assert {type(target).__module__ for target in panel.targets or []} == {
            "grafana_foundation_sdk.models.prometheus"
        }, panel.title


def test_the_schema_check_rejects_what_grafana_would_not_read() -> None:
    """The check above can fail: a misspelt key, a wrong type and an unknown enum value."""
    rendered = render_dashboard(DASHBOARDS[0])
    bargauge = next(index for index, panel in enumerate(rendered["panels"]) if panel["type"] == "bargauge")
    rendered["panels"][0]["gridPosition"] = rendered["panels"][0].pop("gridPos")
    rendered["panels"][bargauge]["options"]["displayMode"] = "gradiant"
    rendered["panels"][1]["targets"][0]["instant"] = "yes"
    rendered["refresh"] = 10
    problems = schema_problems(rendered)
    assert "/panels[0]/gridPosition: not in the schema" in problems
    assert any(
        problem.startswith(f"/panels[{bargauge}]/options/display_mode: 'gradiant' is not one of")
        for problem in problems
    ), problems
    assert "/panels[1]/targets[0]/instant: 'yes' is not bool" in problems
    assert any(problem.startswith("/refresh: 10 is not") for problem in problems), problems

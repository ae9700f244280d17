"""The committed guides are exactly what `lakelab report --guides` renders from the committed records."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.guides import render_guides

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.mark.skipif(not (DOCS / "results").is_dir(), reason="no records committed under docs/results yet")
def test_committed_guides_rebuild_from_committed_records(tmp_path: Path) -> None:
    written = render_guides(DOCS / "results", tmp_path)
    assert [path.name for path in written] == ["performance-tuning.md", "cost-optimization.md"]
    for path in written:
        assert path.read_text() == (DOCS / path.name).read_text(), f"docs/{path.name} is stale"
    rendered_images = sorted(p.name for p in (tmp_path / "img").glob("*.png"))
    assert rendered_images
    for name in rendered_images:
        assert (DOCS / "img" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not (DOCS / "results").is_dir(), reason="no records committed under docs/results yet")
def test_the_cost_guide_has_the_newest_life_cycle_record_figures() -> None:
    from lakelab.records import RecordKind, read_records

    lifecycles = read_records(DOCS / "results", RecordKind.LIFECYCLE)
    text = (DOCS / "cost-optimization.md").read_text()
    if not lifecycles:
        assert "## A table's life" not in text
        return
    payload = lifecycles[-1]["payload"]
    section = text[text.index("## A table's life") :]
    last = payload["per_batch"][-1]["layer_totals"]["silver"]["files"]
    after = payload["optimize"]["layer_totals"]["silver"]["files"]
    assert f"{payload['records']:,} records, the initial load and {payload['batches']} CDC batches" in section
    assert f"to {last:,} (" in section
    assert f"and left {after:,} (" in section
    assert "(img/cost-lifecycle-files.png)" in section

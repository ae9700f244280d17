"""The base for every config model: frozen, and unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Frozen, rejects unknown keys, and does not coerce `"3"` into `3`."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

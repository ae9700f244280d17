"""Subcommands of the `pipeline` package."""

from __future__ import annotations

from typing import Any


def register(commands: Any) -> None:
    """Add this package's subcommands to the command tree (filled in by its issue)."""

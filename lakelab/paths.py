"""Where lakelab keeps things on disk that are not the user's data."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of lakelab's cache (jars, built binaries); `LAKELAB_CACHE` overrides it."""
    root = os.environ.get("LAKELAB_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lakelab"
    )
    return Path(root)


def ivy_dir() -> Path:
    """Ivy's cache for the JVM dependencies (Delta, S3A) that Spark resolves."""
    return cache_dir() / "ivy"


def bin_dir() -> Path:
    """Binaries lakelab builds itself (MinIO from source)."""
    return cache_dir() / "bin"


def is_remote(path: str) -> bool:
    """True for object-store URIs (s3a://, s3://) rather than local paths."""
    return "://" in path and not path.startswith("file://")


def absolute(path: str) -> str:
    """A local path made absolute (Delta's table builder rejects relative locations); URIs as given."""
    return path if is_remote(path) else str(Path(path.removeprefix("file://")).resolve())

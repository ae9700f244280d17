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


def is_uri(path: str) -> bool:
    """True for any `scheme://` location, `file://` included: Hadoop's to handle, not `pathlib`'s."""
    return "://" in path


def join(root: str, *parts: str) -> str:
    """`root/part/...`; URIs are joined as text, since `Path` collapses `s3a://b` to `s3a:/b`."""
    if not is_uri(root):
        return str(Path(root, *parts))
    tail = "/".join(part.strip("/") for part in parts if part.strip("/"))
    if not tail:
        return root
    return (root if root.endswith("/") else root + "/") + tail


def absolute(path: str) -> str:
    """A local path made absolute (Delta's table builder rejects relative locations); URIs as given."""
    return path if is_remote(path) else str(Path(path.removeprefix("file://")).resolve())

"""Turn a Spark failure caused by the object store going away into one clear line.

When MinIO (or any S3 endpoint) stops answering mid-write, Spark reports a stack of
Py4J, task-failure and AWS SDK messages hundreds of lines long. The fact the user
needs is short: the store is unreachable, and because the Delta commit is the last
step of a write, nothing of this write is visible to readers.
"""

from __future__ import annotations

import re

# Signs, anywhere in the Java or Python message chain, that the S3 endpoint could not be
# reached (the AWS SDK v2 and Hadoop S3A spell it several ways).
_UNREACHABLE = (
    re.compile(r"Connection refused"),
    re.compile(r"Unable to execute HTTP request"),
    re.compile(r"connect timed out", re.IGNORECASE),
    re.compile(r"Connect to \S+ failed"),
    re.compile(r"ConnectException"),
    re.compile(r"NoHttpResponseException"),
    # In compose, a stopped MinIO container's name no longer resolves.
    re.compile(r"UnknownHostException: \S+"),
)


def store_unreachable(message: str) -> str | None:
    """The first sign in `message` that the store was unreachable, or None."""
    for pattern in _UNREACHABLE:
        match = pattern.search(message)
        if match:
            return match.group(0)
    return None


def explain(error: BaseException, endpoint: str) -> str:
    """A one-line explanation of `error`: specific for an unreachable store, else its first line."""
    text = str(error)
    sign = store_unreachable(text)
    if sign is not None:
        return (
            f"the S3 store at {endpoint} stopped answering during the job ({sign}); "
            "the Delta commit did not happen, so readers still see the table's previous version"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return first[:300]


# Signs that a read failed because of the machine or a service, not the bytes it read: the
# same read would succeed once the store answers, the disk has room or the JVM has memory.
_ENVIRONMENT = (
    *_UNREACHABLE,
    re.compile(r"No space left on device"),
    re.compile(r"Permission denied|AccessDenied|Access Denied|403 Forbidden"),
    re.compile(r"OutOfMemoryError|GC overhead limit exceeded"),
    re.compile(r"SparkContext (was|has been) shut down|stopped SparkContext"),
    # A file listed a moment ago and gone now: the landing changed under the run.
    re.compile(r"FileNotFoundException|PATH_NOT_FOUND|NoSuchKey|File \S+ does not exist"),
    re.compile(r"SocketTimeoutException|Read timed out|Timeout waiting for connection"),
)


def error_text(error: BaseException) -> str:
    """All of `error`'s message: its own text and, for a JVM error, every Java cause's."""
    parts = [str(error)]
    java = getattr(error, "java_exception", None) or getattr(error, "_origin", None)
    try:
        while java is not None:
            parts.append(str(java.toString()))
            java = java.getCause()
    except Exception:  # the JVM may be gone; what was gathered is the answer
        parts.append("the JVM stopped answering")
    return "\n".join(parts)


def environment_failure(error: BaseException) -> str | None:
    """The first sign that `error` came from the machine or a service, not the data; else None.

    A read that fails on a file's content (a gzip stream cut short, a Parquet page that does
    not decode) is the file's fault and sets it aside; one that fails because the store
    stopped answering or the disk filled up is not, and setting the file aside would lose
    good data for good. An error raised in Python rather than in the JVM (the Py4J bridge
    gone, a bug) is never the file's fault either.
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    if not names & {"Py4JJavaError", "CapturedException"}:
        return f"{type(error).__name__}: {str(error).strip()[:200]}"
    text = error_text(error)
    for pattern in _ENVIRONMENT:
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None

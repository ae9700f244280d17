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

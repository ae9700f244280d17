"""The few S3 calls the lab makes itself: create a bucket, check one is there, list keys.

boto3 is not a dependency and MinIO's `mc` is not built, so requests are signed
here with AWS Signature Version 4 (about forty lines, standard library only). Spark's
S3A cannot do this job: it never creates buckets, and starting a JVM to probe one
would add ten seconds to every `cluster up`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import requests

from lakelab.errors import UserError

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class CredentialsRefusedError(UserError):
    """The store answered 403: unknown access key, wrong secret, or no permission."""


@dataclass(frozen=True)
class S3Endpoint:
    """Where the store is and who we are to it."""

    url: str
    region: str
    access_key: str
    secret_key: str


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def sign_headers(
    endpoint: S3Endpoint,
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    payload_sha256: str = _EMPTY_SHA256,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Headers (Host, X-Amz-Date, X-Amz-Content-Sha256, Authorization) for one request."""
    now = now or dt.datetime.now(dt.UTC)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    host = urlsplit(endpoint.url).netloc
    canonical_query = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
        for key, value in sorted((query or {}).items())
    )
    headers = {"host": host, "x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical_request = "\n".join(
        [
            method,
            quote(path, safe="/-_.~"),
            canonical_query,
            "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)),
            signed,
            payload_sha256,
        ]
    )
    scope = f"{day}/{endpoint.region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + endpoint.secret_key).encode(), day)
    for part in (endpoint.region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Host": host,
        "X-Amz-Date": amz_date,
        "X-Amz-Content-Sha256": payload_sha256,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={endpoint.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        ),
    }


def _request(
    endpoint: S3Endpoint, method: str, path: str, query: dict[str, str] | None = None
) -> requests.Response:
    headers = sign_headers(endpoint, method, path, query)
    try:
        return requests.request(
            method, endpoint.url.rstrip("/") + path, params=query, headers=headers, timeout=10
        )
    except requests.ConnectionError:
        raise UserError(f"S3 endpoint {endpoint.url} is not reachable (is MinIO up?)") from None


def _error_code(response: requests.Response) -> str:
    try:
        return ET.fromstring(response.content).findtext("Code") or str(response.status_code)
    except ET.ParseError:
        return str(response.status_code)


def ensure_bucket(endpoint: S3Endpoint, bucket: str) -> bool:
    """Create `bucket` unless it exists; True when it was created now."""
    response = _request(endpoint, "PUT", f"/{bucket}")
    if response.status_code == 200:
        return True
    code = _error_code(response)
    if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        return False
    raise UserError(f"could not create bucket '{bucket}' on {endpoint.url}: {code}")


def bucket_exists(endpoint: S3Endpoint, bucket: str) -> bool:
    """True when `bucket` is there and these credentials may list it; False when there is no such bucket.

    The request is path-style (`/<bucket>`), as S3A makes it with `path_style_access`, so a
    store that only serves virtual-host requests fails here too. Nothing is changed.

    Raises:
        CredentialsRefusedError: The store refused the credentials (403), with its error code.
        UserError: The endpoint is unreachable or answered something else.
    """
    try:
        response = _request(endpoint, "GET", f"/{bucket}", {"list-type": "2", "max-keys": "1"})
    except requests.Timeout:
        raise UserError(f"S3 endpoint {endpoint.url} did not answer within 10 s") from None
    if response.status_code == 200:
        return True
    code = _error_code(response)
    if response.status_code == 404 or code == "NoSuchBucket":
        return False
    if response.status_code == 403:
        raise CredentialsRefusedError(f"{endpoint.url} refused the credentials for bucket '{bucket}': {code}")
    raise UserError(f"could not read bucket '{bucket}' on {endpoint.url}: {code}")


def list_keys(endpoint: S3Endpoint, bucket: str, prefix: str = "") -> list[str]:
    """Every key under `prefix` in `bucket`, sorted."""
    keys: list[str] = []
    token: str | None = None
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        response = _request(endpoint, "GET", f"/{bucket}", query)
        if response.status_code != 200:
            raise UserError(
                f"could not list s3://{bucket}/{prefix} on {endpoint.url}: {_error_code(response)}"
            )
        root = ET.fromstring(response.content)
        keys.extend(element.text or "" for element in root.iter(f"{_S3_NS}Key"))
        if root.findtext(f"{_S3_NS}IsTruncated") != "true":
            return sorted(keys)
        token = root.findtext(f"{_S3_NS}NextContinuationToken")

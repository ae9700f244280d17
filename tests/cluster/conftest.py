"""The native lab, started once for the cluster tests on ports no user's lab uses.

`native_lab` brings the lab up in a temporary state dir and takes it down at the end;
`cluster_driver` is one Spark driver (a child process) on its standalone master that
the tests send requests to.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Iterator

import pytest
from labfixtures import ClusterDriver, lab_config_data

from lakelab.config import LakelabConfig, parse_config
from lakelab.paths import bin_dir


def _services_missing() -> str | None:
    if not os.access(bin_dir() / "minio", os.X_OK):
        return f"MinIO binary not built at {bin_dir() / 'minio'} (run `make services`)"
    if shutil.which("prometheus") is None:
        return "prometheus not installed (run `make services`)"
    if shutil.which("prometheus-alertmanager") is None:
        return "prometheus-alertmanager not installed (run `make services`)"
    return None


@pytest.fixture(scope="session")
def lab_credentials() -> Iterator[None]:
    """A fresh MinIO root user and secret for this run, unless the environment sets them."""
    values = {"LAKELAB_S3_ACCESS_KEY": "lakelab-test", "LAKELAB_S3_SECRET_KEY": secrets.token_hex(16)}
    added = [key for key in values if key not in os.environ]
    for key in added:
        os.environ[key] = values[key]
    yield
    for key in added:
        os.environ.pop(key, None)


@pytest.fixture(scope="session")
def lab_config(tmp_path_factory: pytest.TempPathFactory, lab_credentials: None) -> LakelabConfig:
    """The test lab's config, with its state dir under pytest's temporary folder."""
    state_dir = tmp_path_factory.mktemp("lab")
    return parse_config(lab_config_data(state_dir), "tests/cluster/conftest.py")


@pytest.fixture(scope="session")
def services_installed() -> None:
    """Skip (fail in CI) when MinIO, Prometheus or Alertmanager is not installed."""
    missing = _services_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cluster services missing in CI: {missing}")
        pytest.skip(missing)


@pytest.fixture(scope="session")
def native_lab(lab_config: LakelabConfig, services_installed: None) -> Iterator[LakelabConfig]:
    """The native lab, up for the whole session, down at the end."""
    from cluster import native

    try:
        native.up(lab_config, progress=lambda line: print(line, file=sys.stderr))
        yield lab_config
    finally:
        native.down(lab_config, progress=lambda line: None)


@pytest.fixture(scope="session")
def cluster_driver(
    native_lab: LakelabConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterDriver]:
    """One Spark driver on the lab's master for every test that runs jobs."""
    driver = ClusterDriver(native_lab, tmp_path_factory.mktemp("driver") / "driver.log")
    try:
        assert driver.hello.get("ready"), f"driver did not start: {driver.hello}; see {driver.log_path}"
        yield driver
    finally:
        driver.close()

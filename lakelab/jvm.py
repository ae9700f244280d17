"""The JVM side: which Java runs Spark and which jars it loads.

The jars are resolved by Spark's own Ivy from Maven Central into lakelab's cache
(`~/.cache/lakelab/ivy`), once, by `lakelab setup`, which also writes a manifest of the
jar files it got. Later sessions load those files directly (`spark.jars`), so they start
without Ivy's resolution report; without a matching manifest they resolve again. Nothing
is committed and nothing is fetched by hand.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from lakelab.errors import UserError

SPARK_VERSION = "4.2.0"
# PyPI has delta-spark 4.4.1 but Maven Central serves io.delta:delta-spark_4.2_2.13 only up to
# 4.4.0, so both sides are pinned to 4.4.0 (pyproject.toml).
DELTA_VERSION = "4.4.0"
SCALA_BINARY = "2.13"
# pyspark 4.2.0 ships hadoop-client-api/runtime 3.5.0, so S3A must be hadoop-aws 3.5.0.
HADOOP_VERSION = "3.5.0"
# The AWS SDK v2 version that hadoop-aws 3.5.0 declares (hadoop-project: aws-java-sdk-v2.version).
AWS_SDK_VERSION = "2.35.4"

DELTA_PACKAGE = f"io.delta:delta-spark_{SPARK_VERSION.rsplit('.', 1)[0]}_{SCALA_BINARY}:{DELTA_VERSION}"

# hadoop-aws declares the whole SDK `bundle` (about 500 MB) at compile scope. S3A only
# needs the S3 client, its transfer manager and their own dependencies (about 9 MB), so
# the bundle is excluded and these modules are asked for instead.
S3A_PACKAGES = (
    f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",
    f"software.amazon.awssdk:s3:{AWS_SDK_VERSION}",
    f"software.amazon.awssdk:s3-transfer-manager:{AWS_SDK_VERSION}",
    f"software.amazon.awssdk:sts:{AWS_SDK_VERSION}",
)
# Libraries pyspark already ships in its jars/ folder. Delta's kernel and hadoop-aws would
# otherwise bring second copies at other versions (hadoop-client 3.4.2 beside Spark's 3.5.0,
# jackson 2.13 beside 2.21), which is 60 MB more and a classpath conflict waiting to happen.
PROVIDED_BY_PYSPARK = (
    "com.fasterxml.jackson.core:jackson-annotations",
    "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-databind",
    "com.github.luben:zstd-jni",
    "com.google.code.findbugs:jsr305",
    "commons-codec:commons-codec",
    "commons-pool:commons-pool",
    "io.airlift:aircompressor",
    "io.netty:netty-buffer",
    "io.netty:netty-codec",
    "io.netty:netty-codec-http",
    "io.netty:netty-codec-http2",
    "io.netty:netty-common",
    "io.netty:netty-handler",
    "io.netty:netty-resolver",
    "io.netty:netty-transport",
    "io.netty:netty-transport-classes-epoll",
    "io.netty:netty-transport-native-unix-common",
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.httpcomponents:httpclient",
    "org.apache.httpcomponents:httpcore",
    "org.apache.logging.log4j:log4j-api",
    "org.apache.logging.log4j:log4j-core",
    "org.apache.logging.log4j:log4j-slf4j2-impl",
    "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common",
    "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures",
    "org.apache.parquet:parquet-hadoop",
    "org.apache.parquet:parquet-jackson",
    "org.locationtech.jts:jts-core",
    "org.roaringbitmap:RoaringBitmap",
    "org.slf4j:slf4j-api",
    "org.xerial.snappy:snappy-java",
)
EXCLUDED_PACKAGES = ("software.amazon.awssdk:bundle", *PROVIDED_BY_PYSPARK)

SUPPORTED_JAVA = (17, 21)


def spark_packages() -> list[str]:
    """Maven coordinates Spark resolves at start-up: Delta and S3A."""
    return [DELTA_PACKAGE, *S3A_PACKAGES]


JARS_MANIFEST = "lakelab-jars.json"


def write_jars_manifest(ivy: Path, spark_jars: str) -> list[str]:
    """Record the jar files a session resolved (its `spark.jars`) for the current pins."""
    jars = [urlparse(entry).path or entry for entry in spark_jars.split(",") if entry.strip()]
    manifest = {"packages": spark_packages(), "excludes": list(EXCLUDED_PACKAGES), "jars": jars}
    (ivy / JARS_MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return jars


def resolved_jars(ivy: Path) -> list[str] | None:
    """The jar files `lakelab setup` resolved for exactly the current pins, if all still exist."""
    try:
        manifest = json.loads((ivy / JARS_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if manifest.get("packages") != spark_packages() or manifest.get("excludes") != list(EXCLUDED_PACKAGES):
        return None
    jars = manifest.get("jars")
    if not isinstance(jars, list) or not jars or not all(os.path.isfile(str(jar)) for jar in jars):
        return None
    return [str(jar) for jar in jars]


def java_executable() -> str:
    """The `java` Spark will start (JAVA_HOME first, then PATH), or a UserError."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
        raise UserError(f"JAVA_HOME={java_home} has no bin/java; point it at a Java 17 or 21 install")
    found = shutil.which("java")
    if not found:
        raise UserError(
            "Java is missing: Spark 4.2 needs Java 17 or 21 "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)"
        )
    return found


def java_major_version(java: str | None = None) -> int:
    """The major version of the Java Spark will use."""
    java = java or java_executable()
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        raise UserError(f"{java} -version printed no version; is it a working Java?")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> int:
    """Fail with a one-line message unless a supported Java is there."""
    major = java_major_version()
    if major not in SUPPORTED_JAVA:
        raise UserError(
            f"Java {major} found, but Spark {SPARK_VERSION} needs Java 17 or 21; set JAVA_HOME to one"
        )
    return major

"""The `lakelab` command. Heavy modules (pyspark, pandas) are imported by the
subcommands when they run, so `lakelab --help` answers at once.

Each domain package registers its own subcommands from its `cli.py`; a handler is
`run(config, args) -> int` and can be called from tests without the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from lakelab.errors import UserError

Handler = Callable[[Any, argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def load_dotenv(path: str = ".env") -> None:
    """Put `KEY=value` lines of a git-ignored `.env` into the environment (real env wins)."""
    import os

    try:
        lines = open(path, encoding="utf-8").read().splitlines()  # noqa: SIM115
    except FileNotFoundError:
        return
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    from cluster import cli as cluster_cli
    from datagen import cli as datagen_cli
    from harness import cli as harness_cli
    from lakelab import doctor, setup_cmd
    from loadtest import cli as loadtest_cli
    from pipeline import catalog_live
    from pipeline import cli as pipeline_cli

    parser = OneLineParser(
        prog="lakelab",
        description="Benchmark harness and local cluster lab for Spark + Delta Lake pipelines.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: ./lakelab.toml when present, else built-in defaults)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    commands.required = True
    setup_cmd.register(commands)
    doctor.register(commands)
    datagen_cli.register(commands)
    pipeline_cli.register(commands)
    catalog_live.register(commands)
    harness_cli.register(commands)
    loadtest_cli.register(commands)
    cluster_cli.register(commands)
    return parser


def spark_failure(error: BaseException) -> str | None:
    """One line for a failure inside Spark's JVM (with a hint for the common one), else None.

    py4j's own message is a multi-page Java stack trace, or "<exception str() failed>".
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    if "CapturedException" in names:  # pyspark already turned the Java error into its own
        first = (str(error).strip().splitlines() or [""])[0]
        return f"Spark failed: {type(error).__name__}: {first}"
    if "Py4JJavaError" not in names:
        return None
    java = getattr(error, "java_exception", None)
    text = ""
    try:
        text = str(java.toString()) if java is not None else ""
        cause = java.getCause() if java is not None else None
        while cause is not None:
            text = str(cause.toString())
            cause = cause.getCause()
    except Exception:  # the JVM may be gone (killed, out of memory)
        text = text or "the JVM stopped answering"
    line = (text.strip().splitlines() or ["unknown Java error"])[0]
    hint = ""
    if "OutOfMemoryError" in line:
        hint = "; raise [spark] driver_memory in lakelab.toml (in local mode it holds the executors too)"
    return f"Spark failed: {line}{hint}"


def store_failure(config: Any, summary: str) -> str | None:
    """The one line for a Spark failure whose cause is an S3 store that stopped answering, else None."""
    if config is None:
        return None
    from cluster.failures import store_unreachable
    from lakelab.spark import uses_object_store

    sign = store_unreachable(summary)
    if sign is None or not uses_object_store(config):
        return None
    return (
        f"the S3 store at {config.s3.endpoint} stopped answering during the job ({sign}); the write "
        "in progress did not commit, so readers see its table's previous version; once "
        "`lakelab doctor --s3` passes, run the command again"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lakelab` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    load_dotenv()
    config = None
    try:
        from lakelab.config import load_config
        from lakelab.targets import command_exporter_port, registered_targets

        config = load_config(args.config)
        handler: Handler = args.handler
        # While it runs, the command tells Prometheus where its driver UI and exporter are
        # (only when [metrics] scrape_targets_dir is set, as in the compose lab).
        with registered_targets(config, args.command, command_exporter_port(config, args)):
            return handler(config, args)
    except UserError as error:
        print(f"lakelab: error: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:
        summary = spark_failure(error)
        if summary is None:
            raise
        line = store_failure(config, summary) or summary
        from lakelab.spark import session_log_file

        log_file = session_log_file()
        details = f"; Spark's log: {log_file}" if log_file is not None else ""
        print(f"lakelab: {args.command}: {line}{details}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lakelab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

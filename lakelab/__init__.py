"""lakelab: a benchmark harness and local cluster lab for Spark + Delta Lake pipelines.

This package holds what every part shares: the strict config, the one SparkSession
factory, the user-facing error type, provenance for result records and the CLI.
The domain packages (`datagen`, `pipeline`, `harness`, `cluster`) sit beside it.
"""

__version__ = "0.1.0"

"""The benchmark harness: sweeps Spark settings over scales, records results, writes reports."""

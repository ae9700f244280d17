"""Load tests: concurrent BI users on the Gold layer through Spark Connect (`lakelab loadtest`)."""

SETTINGS_ENV = "LAKELAB_LOADTEST_SETTINGS"
"""The environment variable `lakelab loadtest` hands Locust's process its settings in (JSON)."""

"""Synthetic CRM and Snowflake-order sources, generated in Spark from a seed.

Kept light: nothing here imports pyspark at module load, so `lakelab --help` stays instant.
"""

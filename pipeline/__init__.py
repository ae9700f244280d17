"""The medallion pipeline under test: Bronze, Silver and Gold on Delta Lake.

Kept light: nothing here imports pyspark at module load.
"""

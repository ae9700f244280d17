"""The cluster lab: compose.yaml and its native twin (local processes)."""

#!/usr/bin/env bash
# Installs the services the cluster lab and its tests use (filled in by the cluster issue).
set -euo pipefail

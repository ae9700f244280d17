#!/usr/bin/env bash
# Installs what the native cluster lab and its tests run, once, and is cheap to run again:
#   - Prometheus and promtool from Debian's `prometheus` package (apt-get, as root only);
#   - MinIO built from source with a pinned `go install`, cached under $LAKELAB_CACHE/bin.
# MinIO's community edition publishes no binaries or images any more and its repository
# is archived; the pin is its last commit (the Go proxy has no semver tags for it).
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

cache="${LAKELAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lakelab}"
bin_dir="$cache/bin"
missing=()

# --- Prometheus (Debian package) ---------------------------------------------------------
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  echo "services: prometheus present ($(prometheus --version 2>&1 | head -n1 | cut -d' ' -f1-3))"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "services: installing prometheus with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package may start a system service where systemd runs; the lab starts its own.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus || true
  fi
  echo "services: $(prometheus --version 2>&1 | head -n1 | cut -d' ' -f1-3) installed"
else
  missing+=("prometheus and promtool: sudo apt-get install prometheus (Debian/Ubuntu), or put both on PATH")
fi

# --- MinIO (built from source, cached) ---------------------------------------------------
if [ -x "$bin_dir/minio" ]; then
  echo "services: minio present ($bin_dir/minio)"
elif command -v go >/dev/null; then
  echo "services: building minio $MINIO_VERSION with go install (a few minutes, once)"
  mkdir -p "$bin_dir"
  started=$(date +%s)
  # Build into a temporary folder so an interrupted build never leaves a half binary.
  tmp_bin=$(mktemp -d)
  trap 'rm -rf "$tmp_bin"' EXIT
  GOBIN="$tmp_bin" CGO_ENABLED=0 go install "$MINIO_MODULE@$MINIO_VERSION"
  mv "$tmp_bin/minio" "$bin_dir/minio"
  echo "services: minio built in $(( $(date +%s) - started ))s -> $bin_dir/minio"
else
  missing+=("go (1.24 or newer) to build MinIO: https://go.dev/doc/install, then run this script again")
fi

if [ ${#missing[@]} -gt 0 ]; then
  for item in "${missing[@]}"; do
    echo "services: missing: $item" >&2
  done
  # Locally, the cluster tests skip with this reason; in CI a missing service is a failure.
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
fi

#!/usr/bin/env bash
# Installs what the cluster labs and their tests run, once, and is cheap to run again:
#   - Prometheus and promtool from Debian's `prometheus` package (apt-get, as root only);
#   - Alertmanager from Debian's `prometheus-alertmanager` package (the same way);
#   - MinIO built from source with a pinned `go install`, cached under $LAKELAB_CACHE/bin;
#   - for the compose lab, where there is no Docker yet and we are root with apt: Debian's
#     docker.io and debootstrap, and Compose v2 built from its Go module (cached), installed
#     as the docker CLI plugin. Elsewhere the compose tests skip with the reason.
# MinIO's community edition publishes no binaries or images any more and its repository
# is archived; the pin is its last commit (the Go proxy has no semver tags for it).
set -euo pipefail

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
COMPOSE_MODULE="github.com/docker/compose/v2"
COMPOSE_VERSION="v2.40.3"

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

# --- Alertmanager (Debian package) -------------------------------------------------------
# Routes the alert rules to a webhook (prometheus/alertmanager.yml); the alert test runs one.
if command -v prometheus-alertmanager >/dev/null; then
  echo "services: alertmanager present ($(prometheus-alertmanager --version 2>&1 | head -n1 | cut -d' ' -f1-3))"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "services: installing prometheus-alertmanager with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
  # As with Prometheus: the lab and the tests start their own, on loopback.
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus-alertmanager 2>/dev/null; then
    systemctl stop prometheus-alertmanager || true
  fi
  echo "services: $(prometheus-alertmanager --version 2>&1 | head -n1 | cut -d' ' -f1-3) installed"
else
  missing+=("alertmanager: sudo apt-get install prometheus-alertmanager (Debian/Ubuntu), or put it on PATH")
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

# --- The compose lab: an engine, debootstrap, Compose v2 ------------------------------------
# Optional: a machine without them runs the native lab, and the compose tests skip.
compose_plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null \
   && { ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; }; then
  echo "services: installing docker.io and debootstrap with apt-get (the compose lab)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi
if docker compose version >/dev/null 2>&1; then
  echo "services: $(docker compose version 2>&1 | head -n1)"
elif [ -x "$bin_dir/docker-compose-$COMPOSE_VERSION" ]; then
  mkdir -p "$compose_plugin_dir"
  ln -sf "$bin_dir/docker-compose-$COMPOSE_VERSION" "$compose_plugin_dir/docker-compose"
  echo "services: docker compose $COMPOSE_VERSION linked from $bin_dir"
elif command -v docker >/dev/null && command -v go >/dev/null; then
  # `go install` refuses this module (its go.mod has exclude directives): build a copy.
  echo "services: building docker compose $COMPOSE_VERSION from its Go module (a few minutes, once)"
  started=$(date +%s)
  src=$(go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  mkdir -p "$bin_dir"
  (cd "$work" && CGO_ENABLED=0 go build -trimpath \
     -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
     -o "$bin_dir/docker-compose-$COMPOSE_VERSION.tmp" ./cmd)
  mv "$bin_dir/docker-compose-$COMPOSE_VERSION.tmp" "$bin_dir/docker-compose-$COMPOSE_VERSION"
  rm -rf "$work"
  mkdir -p "$compose_plugin_dir"
  ln -sf "$bin_dir/docker-compose-$COMPOSE_VERSION" "$compose_plugin_dir/docker-compose"
  echo "services: docker compose built in $(( $(date +%s) - started ))s -> $compose_plugin_dir"
else
  echo "services: no docker CLI (or no Go to build Compose v2): the compose tests will skip"
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

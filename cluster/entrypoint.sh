#!/bin/bash
# Entrypoint of the compose lab's `lakelab` image: every service and job runs as a non-root
# user, chosen here, then this script becomes the command.
#
#   - A job (LAKELAB_RUN_AS_OWNER_OF set to a bind-mounted folder, the host's ./reports) runs
#     as that folder's owner, so result records and reports land on the host owned by the
#     user who ran `docker compose run`, whatever their uid (uid 0 stays root).
#   - Services run as the image's `lakelab` user.
#
# Containers started with `docker compose run` have no DNS alias, so Spark advertises this
# container's IP (executors call the driver back on it) and lakelab registers that IP with
# Prometheus (lakelab/targets.py).
set -euo pipefail

advertise=$(getent hosts "${HOSTNAME:-$(cat /etc/hostname)}" | awk '{print $1; exit}')
if [ -n "$advertise" ]; then
  export SPARK_LOCAL_HOSTNAME="${SPARK_LOCAL_HOSTNAME:-$advertise}"
  export LAKELAB_ADVERTISE_HOST="${LAKELAB_ADVERTISE_HOST:-$advertise}"
fi

if [ "$(id -u)" != "0" ]; then
  exec "$@"
fi

if [ -n "${LAKELAB_RUN_AS_OWNER_OF:-}" ] && [ -d "${LAKELAB_RUN_AS_OWNER_OF}" ]; then
  uid=$(stat -c %u "$LAKELAB_RUN_AS_OWNER_OF")
  gid=$(stat -c %g "$LAKELAB_RUN_AS_OWNER_OF")
else
  uid=$(id -u lakelab)
  gid=$(id -g lakelab)
fi
if [ "$uid" = "0" ]; then
  exec "$@"
fi
# A host uid the image does not know gets a passwd entry: Java takes user.home and
# user.name from it (spark-submit builds Ivy paths from user.home, "?" without one).
if ! getent passwd "$uid" >/dev/null; then
  echo "lakelab-$uid:x:$uid:$gid:lakelab job:/opt/lakelab/home:/bin/bash" >> /etc/passwd
fi
export HOME=/opt/lakelab/home USER=lakelab
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"

#!/usr/bin/env bash
# Makes the passwords docker-compose.yml reads as secrets, once: random, in secrets/ next to
# this script (git ignores it), without a trailing line break. An existing file is kept, so
# running it again changes nothing.
#
#   deployments/compose/secrets.sh
#
# The directory is 0700 (other users of the host cannot read it); the files are 0644 because
# compose bind-mounts a file secret as it is, and the containers read it as their own users
# (ClickHouse's start script as root, Grafana as 472, the spacepulse binaries as 65534).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
for name in clickhouse clickhouse-grafana grafana-admin; do
  f="$dir/$name.password"
  if [[ -s $f ]]; then
    echo "kept    $f"
    continue
  fi
  (umask 022 && head -c 18 /dev/urandom | base64 | tr -d '\n/+=' >"$f")
  echo "created $f"
done

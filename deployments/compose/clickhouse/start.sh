#!/bin/bash
# Entrypoint of the compose ClickHouse: puts the SHA-256 of the two password secrets into
# users.d (default: the migration, the consumer and the report; spacepulse_grafana: Grafana),
# then hands over to the image's own /entrypoint.sh. It runs at every start, so a changed secret
# takes effect on the next `docker compose up`. CLICKHOUSE_SKIP_USER_SETUP=1 (docker-compose.yml)
# keeps /entrypoint.sh from rewriting the default user.
set -euo pipefail

sha256_of() {
  local f=$1
  [[ -s $f ]] || { echo "clickhouse: secret $f is missing or empty: run deployments/compose/secrets.sh" >&2; exit 1; }
  # The secret as the spacepulse binaries read it: one trailing line break dropped.
  local s
  s=$(<"$f")
  printf '%s' "$s" | sha256sum | cut -d' ' -f1
}

default_sha=$(sha256_of /run/secrets/clickhouse_password)
grafana_sha=$(sha256_of /run/secrets/clickhouse_grafana_password)

cat >/etc/clickhouse-server/users.d/zz-spacepulse-passwords.xml <<XML
<clickhouse>
  <users>
    <default>
      <password remove="remove"/>
      <password_sha256_hex>$default_sha</password_sha256_hex>
      <networks replace="replace"><ip>::/0</ip></networks>
    </default>
    <spacepulse_grafana>
      <password_sha256_hex>$grafana_sha</password_sha256_hex>
    </spacepulse_grafana>
  </users>
</clickhouse>
XML

exec /entrypoint.sh "$@"

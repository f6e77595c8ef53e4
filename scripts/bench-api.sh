#!/usr/bin/env bash
# Load run: GET /api/self with a tenant token through the real server and database (wrk), beside
# pgbench running the same scoped read in one round trip at the same concurrency, in one run.
# Prints a Markdown table for docs/BENCHMARKS.md.
#   scripts/bench-api.sh [connections=16] [seconds=20]
# Uses TEST_DATABASE_URL / DATABASE_URL's server when set (a fresh database on it), else the
# embedded PostgreSQL under a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${1:-16}
SECS=${2:-20}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
command -v pgbench >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

work=$(mktemp -d); chmod 755 "$work"
bin="$work/tenantry"
go build -o "$bin" ./cmd/tenantry
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  if [ -n "${admin_url:-}" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

export TENANTRY_DATA_DIR="$work/data" TENANTRY_LOG_LEVEL=warn
base=${TEST_DATABASE_URL:-${DATABASE_URL:-}}
dbname="tenantry_bench_$$"
if [ -n "$base" ]; then
  admin_url="$base"
  psql "$admin_url" -qc "CREATE DATABASE $dbname" >/dev/null
  export DATABASE_URL=$(python3 -c "import sys,urllib.parse as u;p=u.urlsplit(sys.argv[1]);print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$base" "$dbname")
else
  unset DATABASE_URL
fi

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$bin" workspace create --key bench --name Bench >/dev/null
"$bin" serve --addr 127.0.0.1:$port >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
if [ -z "${DATABASE_URL:-}" ]; then
  pgport=$(awk 'NR==4' "$TENANTRY_DATA_DIR/postgres/data/postmaster.pid")
  export DATABASE_URL="postgres://tenantry@127.0.0.1:$pgport/tenantry?sslmode=disable"
fi
token=$("$bin" token --workspace bench --tenant bench-tenant --name "Bench tenant" 2>/dev/null)
curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/self" >/dev/null   # creates the tenant
read -r ws tenant < <(psql "$DATABASE_URL" -Atc "SELECT workspace_id, id FROM tenants WHERE internal_id = 'bench-tenant'" | tr '|' ' ')

# wrk: the server, HTTP, JWT verification, scope resolution, one scoped read.
wrk -t2 -c"$CONNS" -d3s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/self" >/dev/null   # warm-up
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/self" >"$work/wrk.txt"
wrk_rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
wrk_p50=$(awk '/^ +50%/ {print $2}' "$work/wrk.txt")
wrk_p99=$(awk '/^ +99%/ {print $2}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt"); non2xx=${non2xx:-0}

# pgbench: the same scoped read as the app role, scope and SELECT in one simple-protocol message.
cat >"$work/scoped.sql" <<SQL
SET LOCAL ROLE tenantry_app \; SELECT set_config('tenantry.workspace_id', '$ws', true), set_config('tenantry.tenant_id', '$tenant', true) \; SELECT id, workspace_id, internal_id, name, fields, credentials_meta, ai_credits_rolling_30_day_limit, is_test, created_at, updated_at, archived_at, last_active_at FROM tenants WHERE workspace_id = '$ws' AND id = '$tenant';
SQL
pgbench -n -M simple -c"$CONNS" -j2 -T"$SECS" -f "$work/scoped.sql" "$DATABASE_URL" >"$work/pgbench.txt" 2>&1
pg_tps=$(awk '/^tps = / {print $3; exit}' "$work/pgbench.txt")
pg_lat=$(awk '/^latency average/ {print $4}' "$work/pgbench.txt")

# The same read as the server now sends it (store/readbatch.go): scope and read as prepared
# statements, pipelined, one Sync — one round trip, no parse or plan per request.
cat >"$work/prepared.sql" <<SQL
\\startpipeline
SELECT set_config('role', 'tenantry_app', true), set_config('tenantry.workspace_id', '$ws', true), set_config('tenantry.tenant_id', '$tenant', true), 0;
SELECT id, workspace_id, internal_id, name, fields, credentials_meta, ai_credits_rolling_30_day_limit, is_test, created_at, updated_at, archived_at, last_active_at FROM tenants WHERE workspace_id = app.workspace_id() AND id = app.tenant_id();
\\endpipeline
SQL
pgbench -n -M prepared -c"$CONNS" -j2 -T"$SECS" -f "$work/prepared.sql" "$DATABASE_URL" >"$work/pgbench-prepared.txt" 2>&1
pgp_tps=$(awk '/^tps = / {print $3; exit}' "$work/pgbench-prepared.txt")
pgp_lat=$(awk '/^latency average/ {print $4}' "$work/pgbench-prepared.txt")

ratio=$(python3 -c "print(f'{$wrk_rps/$pg_tps:.2f}')")
ratio_p=$(python3 -c "print(f'{$wrk_rps/$pgp_tps:.2f}')")
echo "| what ($CONNS connections, ${SECS} s, same run) | throughput | latency |"
echo "| --- | --- | --- |"
echo "| wrk GET /api/self, tenant token, real server | $wrk_rps req/s (non-2xx: $non2xx) | p50 $wrk_p50, p99 $wrk_p99 |"
echo "| pgbench, same scoped read, 1 round trip | $pg_tps tx/s | avg ${pg_lat} ms |"
echo "| pgbench, same read prepared and pipelined, 1 round trip | $pgp_tps tx/s | avg ${pgp_lat} ms |"
echo "| ratio server / pgbench floor (simple protocol, the issue's floor) | $ratio× | |"
echo "| ratio server / pgbench prepared | $ratio_p× | |"

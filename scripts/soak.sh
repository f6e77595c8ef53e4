#!/usr/bin/env bash
# Soak: a bounded mixed load through the real server and database (wrk), for docs/BENCHMARKS.md.
#   scripts/soak.sh [seconds=60] [connections=16]      (make soak SOAK_SECONDS=60 CONNECTIONS=16)
# Five wrk instances run at once, one per request type, sharing the connections 4:4:4:2:2:
#   tenant tokens: GET /api/self, GET /api/connections, POST /api/connections/{id}/actions/list-deals/run
#   (an http-request action against a local upstream: python3 -m http.server serving a JSON file);
#   a workspace token ("managers browsing tenants and activity" through the API, not the Console):
#   GET /api/customers?search=…, GET /api/activity-logs?limit=50.
# The server's RSS is sampled every 10 s. Prints a Markdown report.
# Uses TEST_DATABASE_URL / DATABASE_URL's server when set (a fresh database on it), else the
# embedded PostgreSQL under a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-${SOAK_SECONDS:-60}}
CONNS=${2:-${CONNECTIONS:-16}}
TENANTS=${SOAK_TENANTS:-4}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
command -v psql >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

work=$(mktemp -d); chmod 755 "$work"
bin="$work/tenantry"
go build -o "$bin" ./cmd/tenantry
server_pid= up_pid= sampler_pid=
cleanup() {
  for p in $sampler_pid $up_pid $server_pid; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ -n "${admin_url:-}" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

export TENANTRY_DATA_DIR="$work/data" TENANTRY_LOG_LEVEL=warn
base=${TEST_DATABASE_URL:-${DATABASE_URL:-}}
dbname="tenantry_soak_$$"
if [ -n "$base" ]; then
  admin_url="$base"
  psql "$admin_url" -qc "CREATE DATABASE $dbname" >/dev/null
  export DATABASE_URL=$(python3 -c "import sys,urllib.parse as u;p=u.urlsplit(sys.argv[1]);print(u.urlunsplit(p._replace(path='/'+sys.argv[2])))" "$base" "$dbname")
else
  unset DATABASE_URL
fi

# The upstream: a JSON file served by Python's threading HTTP server.
mkdir -p "$work/upstream/api"
echo '{"results":[{"id":"d1","name":"First deal"},{"id":"d2","name":"Second deal"}]}' >"$work/upstream/api/deals.json"
up_port=$(freeport)
python3 -m http.server "$up_port" --bind 127.0.0.1 --directory "$work/upstream" >"$work/upstream.log" 2>&1 &
up_pid=$!

port=$(freeport)
url="http://127.0.0.1:$port"
"$bin" workspace create --key soak --name Soak --json >"$work/workspace.json" 2>"$work/cli.err"
"$bin" serve --addr 127.0.0.1:$port >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!
for _ in $(seq 1 120); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$url/readyz" >/dev/null || { echo "server not ready" >&2; cat "$work/serve.err" >&2; exit 1; }
for _ in $(seq 1 20); do curl -fs "http://127.0.0.1:$up_port/api/deals.json" >/dev/null 2>&1 && break; sleep 0.25; done

admin=$("$bin" token --workspace soak --admin --ttl 4h 2>/dev/null)
api() { # METHOD PATH TOKEN [BODY]: fails on a non-2xx answer, prints the body
  curl -fsS -X "$1" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' ${4:+--data "$4"} "$url/api$2"
}
jget() { python3 -c "import sys,json;print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# The integration (base URL: the upstream), an http-request action, tenants with a connection each.
api POST /integrations "$admin" "{\"key\":\"upstream\",\"name\":\"Upstream\",\"baseUri\":\"http://127.0.0.1:$up_port/api\",\"authType\":\"bearer\"}" >/dev/null
api POST /actions "$admin" '{"key":"list-deals","name":"List deals","type":"http-request","integrationKey":"upstream","config":{"method":"GET","path":"/deals.json","query":{"limit":"100"}}}' >/dev/null
: >"$work/self.tsv"; : >"$work/connections.tsv"; : >"$work/run.tsv"; : >"$work/customers.tsv"; : >"$work/activity.tsv"
for n in $(seq 1 "$TENANTS"); do
  t="soak-tenant-$n"
  api POST /customers "$admin" "{\"internalId\":\"$t\",\"name\":\"Soak tenant $n\"}" >/dev/null
  conn=$(api POST /connections "$admin" "{\"integrationKey\":\"upstream\",\"tenantId\":\"$t\",\"name\":\"$t upstream\",\"key\":\"main\",\"credentials\":{\"accessToken\":\"soak-secret-$n\"}}" | jget id)
  tok=$("$bin" token --workspace soak --tenant "$t" --name "Soak tenant $n" --ttl 4h 2>/dev/null)
  api POST "/connections/$conn/actions/list-deals/run" "$tok" '{}' | grep -q d2 || { echo "action run did not reach the upstream" >&2; exit 1; }
  printf 'GET\t/api/self\t%s\n' "$tok" >>"$work/self.tsv"
  printf 'GET\t/api/connections\t%s\n' "$tok" >>"$work/connections.tsv"
  printf 'POST\t/api/connections/%s/actions/list-deals/run\t%s\t{}\n' "$conn" "$tok" >>"$work/run.tsv"
  printf 'GET\t/api/customers?search=tenant+%s\t%s\n' "$n" "$admin" >>"$work/customers.tsv"
done
printf 'GET\t/api/customers?search=soak\t%s\n' "$admin" >>"$work/customers.tsv"
printf 'GET\t/api/activity-logs?limit=50\t%s\n' "$admin" >>"$work/activity.tsv"
for f in self connections run customers activity; do  # every request answers 2xx before the load
  while IFS=$'\t' read -r m p tk b; do api "$m" "${p#/api}" "$tk" "$b" >/dev/null; done <"$work/$f.tsv"
done

rss() { ps -o rss= -p "$server_pid" | tr -d ' '; }
rss_start=$(rss)
( s=0; while :; do echo "$s $(rss)"; sleep 10; s=$((s+10)); done ) >"$work/rss.txt" &
sampler_pid=$!

share() { local n=$(( CONNS * $1 / 16 )); [ "$n" -lt 1 ] && n=1; echo "$n"; }
declare -A conns=([self]=$(share 4) [connections]=$(share 4) [run]=$(share 4) [customers]=$(share 2) [activity]=$(share 2))
pids=()
for f in self connections run customers activity; do
  wrk -t1 -c"${conns[$f]}" -d"${SECS}s" --timeout 10s -s scripts/soak/requests.lua "$url" -- "$f" "$work/$f.tsv" >"$work/wrk-$f.txt" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
sleep 1
rss_end=$(rss)
kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=
echo "$((SECS)) $rss_end (end)" >>"$work/rss.txt"

declare -A label=([self]="tenant GET /api/self" [connections]="tenant GET /api/connections"
  [run]="tenant POST /api/connections/{id}/actions/list-deals/run" [customers]="workspace GET /api/customers?search=…"
  [activity]="workspace GET /api/activity-logs?limit=50")
echo "Soak: ${SECS} s, $CONNS connections, $TENANTS tenants, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| request (connections) | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors |"
echo "| --- | --: | --: | --: | --: | --: | --: | --: | --: |"
total=0 bad=0
for f in self connections run customers activity; do
  line=$(grep '^SOAK ' "$work/wrk-$f.txt" || { cat "$work/wrk-$f.txt" >&2; exit 1; })
  read -r _ _ n rps p50 p90 p99 max st er <<<"$line"
  total=$((total+n)); bad=$((bad+st+er))
  echo "| ${label[$f]} (${conns[$f]}) | $n | $rps | $p50 | $p90 | $p99 | $max | $st | $er |"
done
echo "| all | $total | $(python3 -c "print(f'{$total/$SECS:.1f}')") | | | | | $bad (non-2xx + errors) | |"
echo
echo "Server RSS (KiB), every 10 s: $(awk '{printf "%s%s", (NR>1?", ":""), $2}' "$work/rss.txt")"
echo "RSS start $rss_start KiB, end $rss_end KiB."
upstream_hits=$(grep -c '"GET /api/deals.json' "$work/upstream.log" || true)
# wrk closes its connections at the deadline: requests in flight then end with "context canceled"
# (logged, answered to nobody). Anything else at ERROR is a real server error.
canceled=$(grep 'level=ERROR msg="api error"' "$work/serve.err" | grep -c 'context canceled' || true)
other=$(grep 'level=ERROR' "$work/serve.err" | grep -v 'context canceled' | grep -vc 'msg=request ' || true)
echo "Upstream calls: $upstream_hits. Server errors logged: $other; requests cut off by wrk at the deadline (context canceled): $canceled."
if [ "$other" -gt 0 ]; then echo; echo "Server errors (first 10):"; grep 'level=ERROR' "$work/serve.err" | grep -v 'context canceled' | head -10 | sed 's/^/    /'; fi
[ "$bad" -eq 0 ] || { echo "soak: $bad failed requests" >&2; exit 1; }

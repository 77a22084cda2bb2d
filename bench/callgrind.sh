#!/bin/bash
# Instructions per API request of one `schedlite` build, whole server process, independent of
# the machine's load (BENCHMARKS.md). Usage: bench/callgrind.sh BINARY [get|page] [N]
# The binary migrates a fresh file itself (so builds with different migrations compare), 100,000
# date jobs are inserted with the sqlite3 shell, and the server serves N then 2N requests over
# one keep-alive connection under callgrind: per request = (I(2N) - I(N)) / N.
set -u
BIN=$1; MODE=${2:-get}; N=${3:-200}
OUT=$(mktemp -d); cd "$OUT"
KEY=bench-admin-key-0123456789abcdef
make_db() {
  rm -f db.sqlite*
  SCHEDLITE_DB=$OUT/db.sqlite "$BIN" migrate >/dev/null 2>&1
  sqlite3 db.sqlite "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < 99999) INSERT INTO jobs (id, trigger_type, timezone, run_at, action, next_run_at, created_at, updated_at) SELECT printf('s%07d', i), 'date', 'UTC', '2099-01-01T00:00:00.000Z', '{\"type\":\"noop\"}', '2099-01-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z' FROM c"
}
one() {
  local n=$1 port=$((20000 + RANDOM % 20000))
  make_db
  SCHEDLITE_ADMIN_KEY=$KEY RUST_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$n.out" \
    "$BIN" serve --db "$OUT/db.sqlite" --listen 127.0.0.1:$port > "$OUT/server.$n.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do curl -s -o /dev/null http://127.0.0.1:$port/readyz && break; sleep 0.2; done
  : > urls.$n
  for i in $(seq 1 "$n"); do
    case $MODE in
      get) printf 'url = "http://127.0.0.1:%s/api/v1alpha1/jobs/s%07d"\n' $port $(( (i * 7919) % 100000 )) ;;
      page) printf 'url = "http://127.0.0.1:%s/api/v1alpha1/jobs?limit=100"\n' $port ;;
    esac >> urls.$n
    echo 'output = "/dev/null"' >> urls.$n
  done
  curl -s -H "X-API-Key: $KEY" -K urls.$n
  kill -TERM $pid; wait $pid
  grep -E "^summary|^totals" "$OUT/cg.$n.out" | awk '{print $2}' | head -1
}
a=$(one "$N"); b=$(one $((2 * N)))
echo "$BIN $MODE: I($N)=$a I($((2 * N)))=$b per request=$(( (b - a) / N ))"
rm -rf "$OUT"

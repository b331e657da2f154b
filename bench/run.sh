#!/usr/bin/env bash
# Measures the foundation's performance figures against a release build:
#   1. start-up of start-dev on an existing SQLite file to the first 200 on discovery
#   2. idle resident memory with the example realm
#   3. discovery and JWKS requests/s, server pinned to core 0, wrk (keep-alive) on core 1
#   4. import of a realm with 100,000 users with argon2 hashes, on SQLite and PostgreSQL
# Results are printed; copy them into docs/benchmarks.md. Traffic goes to 127.0.0.1 only,
# and every loop is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked --bin portcullis
BIN=$PWD/target/release/portcullis
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=18080
mkdir -p "$WORK/data/import" && cp realms/*.json "$WORK/data/import/"

# First start creates the store (keys, master realm, example realm).
"$BIN" start-dev --data-dir "$WORK/data" --import-realm --http-port $PORT --http-host 127.0.0.1 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/realms/demo/.well-known/openid-configuration" >/dev/null && break; sleep 0.05; done
kill $PID; wait $PID 2>/dev/null || true

echo "== 1. start-up to first 200 on discovery (existing SQLite file), 20 runs"
python3 - "$BIN" "$WORK/data" $PORT <<'PY'
import subprocess, sys, time, urllib.request, statistics
bin_, data, port = sys.argv[1], sys.argv[2], sys.argv[3]
url = f"http://127.0.0.1:{port}/realms/demo/.well-known/openid-configuration"
times = []
for _ in range(20):
    t0 = time.perf_counter()
    p = subprocess.Popen([bin_, "start-dev", "--data-dir", data, "--http-port", port, "--http-host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(2000):
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                break
        except Exception:
            time.sleep(0.002)
    times.append((time.perf_counter() - t0) * 1000)
    p.terminate(); p.wait()
times.sort()
print(f"start-up ms: median {statistics.median(times):.1f}, min {times[0]:.1f}, max {times[-1]:.1f}")
PY

echo "== 2. idle resident memory with the example realm"
taskset -c 0 "$BIN" start-dev --data-dir "$WORK/data" --http-port $PORT --http-host 127.0.0.1 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/realms/demo/protocol/openid-connect/certs" >/dev/null && break; sleep 0.05; done
sleep 1
grep VmRSS /proc/$PID/status

echo "== 3. throughput, server on core 0, wrk -t1 -c64 -d10s on core 1"
for path in /realms/demo/.well-known/openid-configuration /realms/demo/protocol/openid-connect/certs; do
  echo "-- $path"
  taskset -c 1 wrk -t1 -c64 -d10s "http://127.0.0.1:$PORT$path" | grep -E "Requests/sec|Latency|Non-2xx" || true
done
grep VmRSS /proc/$PID/status
kill $PID; wait $PID 2>/dev/null || true

echo "== 4. import of 100,000 users with argon2 hashes"
python3 bench/gen_users.py 100000 "$WORK/users.json"
/usr/bin/time -f "sqlite: %e s, max RSS %M KB" "$BIN" import --data-dir "$WORK/bulk-sqlite" --file "$WORK/users.json" >/dev/null
PG_URL=${PORTCULLIS_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=bench_$$
/usr/bin/time -f "postgres: %e s, max RSS %M KB" "$BIN" import --db postgres --db-url "$PG_URL" --db-schema $SCHEMA --data-dir "$WORK/bulk-pg" --file "$WORK/users.json" >/dev/null
psql "$PG_URL" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null 2>&1 || true

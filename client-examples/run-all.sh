#!/usr/bin/env bash
# Runs every client example against a real Lethe sidecar on loopback, then stops it with SIGTERM
# and checks it stopped cleanly. Needs target/lethe.jar (mvn -DskipTests package), Debian's
# python3-grpcio and python3-grpc-tools, and `npm ci` done in client-examples/node.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
unzip -p target/lethe.jar dev/lethe/demo/digits.csv.gz > "$work/digits.csv.gz"
java -jar target/lethe.jar serve --listen 127.0.0.1:0 --data-dir "$work/data" > "$work/serve.log" 2>&1 < /dev/null &
pid=$!
for _ in $(seq 1 120); do
  port=$(grep -o '(port [0-9]*)' "$work/serve.log" | grep -o '[0-9]*' || true)
  [ -n "$port" ] && break
  kill -0 "$pid" || { cat "$work/serve.log"; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { echo "sidecar did not start"; cat "$work/serve.log"; exit 1; }
target="127.0.0.1:$port"
# Each example runs twice: the second run must pass too (idempotent: it finds its model and the
# erase's request id returns the first answer).
for run in 1 2; do
  echo "== python ($target, run $run)"; /usr/bin/python3 client-examples/python/lethe_example.py --target "$target" --data "$work/digits.csv.gz"
  echo "== node (run $run)";   node client-examples/node/lethe_example.js --target "$target" --data "$work/digits.csv.gz"
  echo "== java (run $run)";   java -cp target/lethe.jar client-examples/java/LetheExample.java "$target" "$work/digits.csv.gz"
  echo "== torchscript (run $run)"; /usr/bin/python3 client-examples/torchscript/lethe_torchscript.py --target "$target" --data "$work/digits.csv.gz"
done
echo "== reflection"; java -cp target/lethe.jar client-examples/java/ReflectionCheck.java "$target"
kill -TERM "$pid"
wait "$pid" || true
grep -q "stopped cleanly" "$work/serve.log" || { echo "sidecar did not stop cleanly"; cat "$work/serve.log"; exit 1; }
echo "client examples: 5 passed (python, node, java and torchscript twice), 0 failed"

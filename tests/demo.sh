#!/usr/bin/env bash
# tests/demo.sh - `make demo`: publish a few messages from every language to
# a local broker and print their message IDs. Starts the broker if none is
# running, and stops it again at the end if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=pulsar://127.0.0.1:6650
TOPIC=persistent://public/default/pp-demo
started=0
trap '[ "$started" = 1 ] && tests/broker/broker.sh stop >/dev/null 2>&1 || true' EXIT
if ! tests/broker/broker.sh status >/dev/null 2>&1; then
  echo "demo: starting a local Pulsar broker (the first run downloads it, ~250 MB)"
  tests/broker/broker.sh start
  started=1
fi

echo "== Go (native producer)"
go run ./examples/go -url "$URL" -topic "$TOPIC"

echo "== C (libpulsar_producer.so)"
mkdir -p build/demo
cc -std=c99 -Wall -Wextra -Werror -Iinclude examples/c/demo.c -Lbuild/lib -lpulsar_producer \
  -Wl,-rpath,"$PWD/build/lib" -o build/demo/c-demo
build/demo/c-demo "$URL" "$TOPIC"

echo "== Node (koffi over libpulsar_producer.so)"
node examples/node/demo.js "$URL" "$TOPIC" native

echo "== Node (build/wasm/pulsar_producer.wasm under node:wasi, no native code)"
node examples/node/demo.js "$URL" "$TOPIC" wasi

echo "== Python (ctypes over libpulsar_producer.so)"
python3 examples/python/demo.py "$URL" "$TOPIC"

echo "== WASI (build/wasm/pulsar_producer.wasm under wazero)"
go run ./examples/wasi -url "$URL" -topic "$TOPIC"

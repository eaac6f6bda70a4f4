#!/usr/bin/env bash
# tests/bench.sh - `make bench`: printed figures, with each peer measured in
# the same run on the same machine, and the ratios.
#
# How it works: the engine's hot path is a Go benchmark; the native producer
# is compared with the official Go client against the in-process ack-at-once
# fake broker; the C ABI, Python, Node and WASI figures are taken against the
# real broker, each beside a native Go run made just before it (absolute
# numbers on a shared 2-core machine are noisy; the ratios are the point).
set -euo pipefail
cd "$(dirname "$0")/.."
URL=pulsar://127.0.0.1:6650
started=0
trap '[ "$started" = 1 ] && tests/broker/broker.sh stop >/dev/null 2>&1 || true' EXIT
if ! tests/broker/broker.sh status >/dev/null 2>&1; then
  tests/broker/broker.sh start
  started=1
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== engine hot path: 1000-message batches of 100-byte payloads, receipts handled (one op = one message)"
go test -run '^$' -bench 'BenchmarkEngine' -benchtime 2000000x ./core/engine | grep '^Benchmark'

echo
echo "== native producer vs the official Go client (pulsar-client-go v0.19.0), ack-at-once fake broker"
(cd tests && go run ./bench/cmd/ppbench)

echo
echo "== features, native vs the official Go client, ack-at-once fake broker: chunking (10 MiB messages), key-based batching (100 keys); schema values vs raw payloads"
(cd tests && go run ./bench/cmd/ppfeaturebench)
(cd tests && go test -run '^$' -bench 'EncodeValue' -benchtime 1000000x ./bench | grep '^Benchmark')

echo
echo "== C ABI vs native Go: 1,000,000 x 100 B, ack-at-once fake broker (a process of its own), 3 alternating rounds"
mkdir -p build/bench
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude tests/c/bench.c -Lbuild/lib -lpulsar_producer \
  -Wl,-rpath,"$PWD/build/lib" -lpthread -o build/bench/c-bench
(cd tests && go build -o ../build/bench/ppfakebroker ./cmd/ppfakebroker && go build -o ../build/bench/ppgobench ./cmd/ppgobench)
build/bench/ppfakebroker >build/bench/fake.out 2>&1 &
FAKE_PID=$!
for _ in $(seq 50); do [ -s build/bench/fake.out ] && break; sleep 0.1; done
FAKE_URL=$(head -1 build/bench/fake.out)
rates() { sed -n 's/.*[:=] \([0-9.]*\) msgs*\/s, \([0-9.]*\) cpu-s.*/\1 \2/p'; }
: >build/bench/c-abi.txt
for round in 1 2 3; do
  echo "native $(build/bench/ppgobench -url "$FAKE_URL" | rates)" >>build/bench/c-abi.txt
  for mode in single batch many; do
    echo "$mode $(build/bench/c-bench "$FAKE_URL" "c-$mode-$round" 1000000 "$mode" | rates)" >>build/bench/c-abi.txt
  done
done
kill "$FAKE_PID"
wait "$FAKE_PID" 2>/dev/null || true
# median LABEL FIELD: the middle of the three values of one column.
median() { awk -v l="$1" -v f="$2" '$1 == l { print $f }' build/bench/c-abi.txt | sort -n | sed -n 2p; }
nr=$(median native 2)
printf 'native Go   %9.0f msg/s  %s cpu-s/Mmsg (median)\n' "$nr" "$(median native 3)"
for mode in single batch many; do
  r=$(median "$mode" 2)
  printf 'C %-9s %9.0f msg/s  %s cpu-s/Mmsg (median): %s%% of native throughput\n' "$mode" "$r" "$(median "$mode" 3)" \
    "$(awk -v a="$r" -v b="$nr" 'BEGIN { printf "%.0f", 100 * a / b }')"
done
echo "(single: pp_send, one producer; batch: pp_send_batch, one producer; many: pp_send_batch over 50 producers of one client, one pp_drain thread)"

echo
echo "== Node (1,000,000 x 100 B with send, promises in flight bounded), real broker"
(cd bindings/node && node bench/bench.js)

echo
echo "== Python: 1,000,000 x 100 B send_async vs the official pulsar-client 3.13 send_async, and over 50 producers of one client, real broker"
[ -x build/pyenv/bin/python ] || python3 -m venv build/pyenv
build/pyenv/bin/pip install -q 'pulsar-client==3.13.*'
build/pyenv/bin/python bindings/python/bench.py

echo
echo "== WASI: 1,000,000 x 100 B, the module under wazero vs the native producer, real broker, alternating"
(cd tests && go test ./wasm -run '^$' -bench Throughput -benchtime 1000000x | grep -v '^goos\|^goarch\|^pkg\|^cpu\|^PASS\|^ok')
echo "module size: $(stat -c %s build/wasm/pulsar_producer.wasm) bytes (stripped)"

# --- Secured broker: TLS + token (tests/broker/secure.sh, tests/bench/cmd/ppsecbench) ---
#
# The native producer against the official Go client, both over TLS with a
# token, and the native producer over TLS against the same broker's
# plaintext port (token too): 1,000,000 x 100 B batched, each round in a
# process of its own, alternating, median of 5. The secured deployment is
# started for this section unless it runs, and then stopped.
echo
echo "== secured broker (TLS + token): native vs the official Go client, and the cost of TLS; 1,000,000 x 100 B, real broker"
(
  secure="$PWD/tests/broker/secure.sh"
  if ! "$secure" status >/dev/null 2>&1; then
    trap '"$secure" stop >/dev/null 2>&1 || true' EXIT
    "$secure" start | grep '^secure deployment ready'
  fi
  eval "$("$secure" env | sed 's/^/export /')"
  mkdir -p build/bench
  (cd tests && go build -o ../build/bench/ppsecbench ./bench/cmd/ppsecbench)
  build/bench/ppsecbench -rounds 5
  echo "-- Python: ours vs the official Python client, both TLS + token, 1,000,000 x 100 B"
  build/pyenv/bin/python bindings/python/bench.py --secure
)

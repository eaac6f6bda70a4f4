#!/usr/bin/env bash
# tests/leaks/run.sh - `make leaks`: resident memory stays flat over 10
# million messages in C, Python and Node (both backends of the Node package).
#
# How it works: builds the ack-at-once fake broker (tests/cmd/ppfakebroker)
# and the C program, starts the broker as a process of its own, and runs
# leak.c, leak.py and leak.js (on each Node backend) against it one after
# the other, each publishing N (default 10,000,000) messages of 100 bytes,
# batched by 1000, with blockIfQueueFull and maxPendingMessages 10000,
# and printing its own VmRSS after every N/10 messages (the programs'
# headers say how). The fake broker makes the run fast and needs no real
# broker: what is measured is the client's memory, not delivery (the other
# suites prove delivery).
# One line per language:
#   ok - leaks c: RSS 1M 32.6, 2M 30.9, 5M 36.1, 10M 37.1 MiB; 10M-2M +6.2 MiB (bound 23.1); ...
# and one for the broker's count of what it received. A language fails if
# RSS at 10M exceeds RSS at 2M by more than the bound, if a message failed
# or a completion was missing (or the program exited non-zero, or did not
# finish within PP_LEAKS_TIMEOUT seconds, default 150); the broker's line
# fails unless it received every message, with no checksum error.
#
# The bound is 10% of RSS at 2M plus 20 MiB. Measured on flat runs (30M
# messages show no trend after the first 4M), RSS at 10M exceeded RSS at
# 2M by up to 12.7 MiB in C and 13.6 MiB in Python, so 8 MiB would fail
# flat runs: the Go runtime inside the library lets its heap grow to twice
# the live heap (GOGC=100), and the live heap (10-19 MB: open and pending
# batches, the completion queue's capacity, which follows how far the
# application's drain lags) steps up once or twice while it warms up, more
# on a loaded machine. 10% absorbs noise proportional to the heap (Node's
# V8 heap). Over the 8M messages between the two samples, the bound (23-25
# MiB in C and Python, 32 MiB in Node) is 3-4 bytes a message: anything
# kept per message, if only a pointer (8 bytes), trips it; something kept
# per batch of 1000 trips it from about 4 KB a batch.
#
# `run.sh --retain K` makes every program keep a copy of every K-th payload
# (a leak put in on purpose): the bound must then trip, and the run fail.
# Usage: tests/leaks/run.sh [--retain K] [c] [python] [node] [node-wasi]   (default: all four;
# node-wasi is the Node package on its wasi backend)
# Environment: PP_LEAKS_N (messages per language, a multiple of 10000),
# PP_LEAKS_TIMEOUT (seconds per language). Needs `make lib node`.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/build/leaks
N=${PP_LEAKS_N:-10000000}
TIMEOUT=${PP_LEAKS_TIMEOUT:-150}
BOUND_PERCENT=10
BOUND_KIB=$((20 * 1024))
retain=()
langs=()
while [ $# -gt 0 ]; do
  case $1 in
    --retain) retain=(--retain "$2"); shift 2 ;;
    c | python | node | node-wasi) langs+=("$1"); shift ;;
    *) echo "usage: $0 [--retain K] [c] [python] [node] [node-wasi]" >&2; exit 2 ;;
  esac
done
[ ${#langs[@]} -gt 0 ] || langs=(c python node node-wasi)
if [ $((N % 10000)) != 0 ] || [ "$N" -lt 10000 ]; then
  echo "leaks: PP_LEAKS_N must be a multiple of 10000, got $N" >&2
  exit 2
fi
for f in build/lib/libpulsar_producer.so bindings/node/node_modules/koffi; do
  [ -e "$f" ] || { echo "leaks: $f is missing: run \`make lib node\` first" >&2; exit 2; }
done
PYTHON=build/pyenv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
mkdir -p "$OUT"
start=$SECONDS

(cd tests && go build -o "$OUT/ppfakebroker" ./cmd/ppfakebroker) || exit 1
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude tests/leaks/leak.c -Lbuild/lib -lpulsar_producer \
  -Wl,-rpath,"$ROOT/build/lib" -lpthread -o "$OUT/leak-c" || exit 1

"$OUT/ppfakebroker" >"$OUT/fakebroker.out" 2>"$OUT/fakebroker.err" &
BROKER_PID=$!
trap 'kill "$BROKER_PID" 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "$OUT/fakebroker.out" ] && break; sleep 0.1; done
URL=$(head -1 "$OUT/fakebroker.out")
case $URL in pulsar://*) ;; *) echo "leaks: the fake broker did not start: $(cat "$OUT/fakebroker.err")" >&2; exit 1 ;; esac

# count LABEL: 1000000 as 1M, 20000 as 20k.
count() { awk -v n="$1" 'BEGIN { if (n % 1000000 == 0) printf "%dM", n / 1000000; else printf "%gk", n / 1000 }'; }

failed=0
topic_suffix="$$-$(date +%s)"
for lang in "${langs[@]}"; do
  topic="persistent://public/default/leaks-$lang-$topic_suffix"
  case $lang in
    c) cmd=("$OUT/leak-c" "$URL" "$topic" "$N" "${retain[@]}") ;;
    python) cmd=("$PYTHON" tests/leaks/leak.py "$URL" "$topic" "$N" "${retain[@]}") ;;
    node) cmd=(env PULSAR_PRODUCER_BACKEND=native node tests/leaks/leak.js "$URL" "$topic" "$N" "${retain[@]}") ;;
    node-wasi) cmd=(env PULSAR_PRODUCER_BACKEND=wasi node tests/leaks/leak.js "$URL" "$topic" "$N" "${retain[@]}") ;;
  esac
  log=$OUT/$lang.log
  timeout -k 5 "$TIMEOUT" "${cmd[@]}" >"$log" 2>&1
  status=$?
  # The samples after 1/10, 2/10, 5/10 and 10/10 of the messages, and the result line.
  line=$(awk -v n="$N" -v pct="$BOUND_PERCENT" -v slack="$BOUND_KIB" -v status="$status" -v lang="$lang" \
    -v c1="$(count $((N / 10)))" -v c2="$(count $((N / 5)))" -v c5="$(count $((N / 2)))" -v c10="$(count "$N")" '
    $1 == "rss" { rss[$2] = $3 }
    $1 == "result" { ok = $6; failed = $8; missing = $10; acked = $12; secs = $14; have = 1 }
    END {
      r1 = rss[n / 10]; r2 = rss[n / 5]; r5 = rss[n / 2]; r10 = rss[n]
      bound = r2 * pct / 100 + slack
      why = ""
      if (r2 == "" || r10 == "") why = why "; samples missing"
      else if (r10 - r2 > bound) why = why "; RSS grew past the bound"
      if (!have) why = why (status == 124 ? "; did not finish in time (a completion missing?)" : "; no result line")
      else {
        if (failed != 0) why = why "; " failed " messages failed"
        if (missing != 0) why = why "; " missing " completions missing"
        if (acked != n) why = why "; " acked " acknowledged"
      }
      if (status != 0 && why == "") why = "; exit status " status
      printf "%s - leaks %s: RSS %s %.1f, %s %.1f, %s %.1f, %s %.1f MiB; %s-%s %+.1f MiB (bound %.1f); %s ok, %s failed, %s missing; %s s%s\n",
        why == "" ? "ok" : "not ok", lang, c1, r1 / 1024, c2, r2 / 1024, c5, r5 / 1024, c10, r10 / 1024,
        c10, c2, (r10 - r2) / 1024, bound / 1024, have ? ok : "?", have ? failed : "?", have ? missing : "?",
        have ? secs : "?", why
    }' "$log")
  echo "$line"
  case $line in ok*) ;; *) failed=1; grep -v '^rss \|^result ' "$log" | head -5 | sed 's/^/    /' ;; esac
done

kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
trap - EXIT
# ppfakebroker: <messages> messages, <checksum errors> checksum errors
read -r received checksums < <(sed -n 's/^ppfakebroker: \([0-9]*\) messages, \([0-9]*\) checksum errors$/\1 \2/p' "$OUT/fakebroker.err")
want=$((N * ${#langs[@]}))
if [ "${received:-0}" = "$want" ] && [ "${checksums:-1}" = 0 ]; then
  echo "ok - leaks fake broker: received $received messages, $checksums checksum errors"
else
  echo "not ok - leaks fake broker: received ${received:-?} messages of $want, ${checksums:-?} checksum errors"
  failed=1
fi
echo "leaks: $((SECONDS - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exit $failed

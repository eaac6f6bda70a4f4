#!/usr/bin/env bash
# tests/run.sh - every test suite, against a real broker (`make test`).
#
# How it works: starts the local Pulsar broker unless one already answers
# (and then stops it at the end, whatever happens), installs the Python and
# npm test dependencies into build/, runs each suite with its own runner, and
# prints one line per suite and a final "N passed, N failed" over all test
# cases. The exit code is non-zero if any suite failed. Logs of each suite go
# to build/test-logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/build/test-logs
mkdir -p "$LOGS"

started=0
stop_broker() {
  if [ "$started" = 1 ]; then
    tests/broker/broker.sh stop >/dev/null 2>&1 || true
  fi
}
trap stop_broker EXIT
if tests/broker/broker.sh status >/dev/null 2>&1; then
  echo "run.sh: using the broker that is already running"
else
  tests/broker/broker.sh start || { echo "run.sh: the broker did not start"; exit 1; }
  started=1
fi

total_pass=0
total_fail=0
failed_suites=()

# record NAME PASS FAIL STATUS: adds a suite's counts to the totals.
record() {
  local name=$1 pass=$2 fail=$3 status=$4
  if [ "$status" != 0 ] && [ "$fail" = 0 ]; then
    fail=1 # the runner failed without a failing case (build error, crash)
  fi
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
  if [ "$fail" != 0 ]; then
    failed_suites+=("$name")
    printf '%-28s FAIL  %5d passed, %d failed   (log: %s)\n' "$name" "$pass" "$fail" "${LOGS#"$ROOT"/}/$name.log"
    grep -E -- '--- FAIL|^FAIL|not ok|FAILED|Error:|panic:' "$LOGS/$name.log" | head -20 | sed 's/^/    /'
  else
    printf '%-28s ok    %5d passed\n' "$name" "$pass"
  fi
}

# go_suite NAME DIR ARGS...: runs go test -v and counts PASS/FAIL lines.
go_suite() {
  local name=$1 dir=$2
  shift 2
  local log=$LOGS/$name.log start=$SECONDS
  (cd "$dir" && go test -v -count=1 "$@") >"$log" 2>&1
  local status=$?
  local pass fail
  pass=$(grep -c -- '--- PASS' "$log")
  fail=$(grep -c -- '--- FAIL' "$log")
  record "$name" "$pass" "$fail" "$status"
  echo "    ($((SECONDS - start)) s)"
}

go_suite go-unit-race . -race -timeout 10m ./core/... ./wasm/...
go_suite go-integration-race tests -race -timeout 15m ./...

# The engine's and the WASI module's own tests, compiled to wasip1 and run
# under the wazero CLI.
wasip1_suite() {
  local log=$LOGS/wasip1.log start=$SECONDS
  make -s wasm-test GOTESTFLAGS=-v >"$log" 2>&1
  local status=$?
  record wasip1-under-wazero "$(grep -c -- '--- PASS' "$log")" "$(grep -c -- '--- FAIL' "$log")" "$status"
  echo "    ($((SECONDS - start)) s)"
}
wasip1_suite

# node_suite: the Node package under node --test (TAP), on both backends,
# read back by the official Go client (tests/cmd/ppconsume).
node_suite() {
  local log=$LOGS/node.log start=$SECONDS
  (make -s node && cd bindings/node && node test/run.js --test-reporter=tap) >"$log" 2>&1
  local status=$? pass fail cancelled
  # One summary per backend (native, wasi): the sums.
  pass=$(awk '/^# pass /{n+=$3} END{print n+0}' "$log")
  fail=$(awk '/^# fail /{n+=$3} END{print n+0}' "$log")
  cancelled=$(awk '/^# cancelled /{n+=$3} END{print n+0}' "$log")
  record node "${pass:-0}" "$((${fail:-0} + ${cancelled:-0}))" "$status"
  echo "    ($((SECONDS - start)) s)"
}
node_suite

# python_suite: the Python package, built as a wheel bundling the library
# and installed into build/pyenv with the official client and pytest; mypy
# --strict, then pytest against the real broker.
python_suite() {
  local log=$LOGS/python.log start=$SECONDS
  ( set -e
    [ -x build/pyenv/bin/python ] || python3 -m venv build/pyenv
    build/pyenv/bin/pip install -q 'pulsar-client[avro]==3.13.*' pytest mypy
    rm -rf build/python/dist
    build/pyenv/bin/pip wheel -q --no-deps -w build/python/dist bindings/python
    build/pyenv/bin/pip install -q --force-reinstall --no-deps build/python/dist/pulsar_producer-*.whl
    (cd bindings/python && ../../build/pyenv/bin/mypy)
    cd build && PP_EXPECT_WHEEL=1 pyenv/bin/pytest -v -p no:cacheprovider ../bindings/python/tests
  ) >"$log" 2>&1
  local status=$?
  record python "$(grep -cE '::[^ ]+ PASSED' "$log")" "$(grep -cE '::[^ ]+ (FAILED|ERROR)' "$log")" "$status"
  echo "    ($((SECONDS - start)) s)"
}
python_suite

# leaks_suite: resident memory stays flat over 10M messages in C, Python and
# Node, against the ack-at-once fake broker (tests/leaks/run.sh: one line
# per language, "ok - " or "not ok - ").
leaks_suite() {
  local log=$LOGS/leaks.log start=$SECONDS
  (make -s lib node && tests/leaks/run.sh) >"$log" 2>&1
  local status=$?
  record leaks "$(grep -c '^ok - ' "$log")" "$(grep -c '^not ok - ' "$log")" "$status"
  grep -E '^ok - leaks |^leaks: ' "$log" | sed 's/^/    /'
  echo "    ($((SECONDS - start)) s)"
}
leaks_suite

# --- Reliability suites (tests/faults, tests/faultproxy, fuzz targets) ---

# fuzz_suite: every fuzz target for a few seconds (make fuzz runs them
# longer); a failing input is written under the target's testdata/fuzz.
fuzz_suite() {
  local log=$LOGS/fuzz.log start=$SECONDS pass=0 fail=0 t
  for t in $(make -s fuzz-targets); do
    if go test -run '^$' -fuzz "^${t##*:}\$" -fuzztime "${PP_FUZZTIME:-4s}" "./${t%%:*}" >>"$log" 2>&1; then
      pass=$((pass + 1)); echo "--- PASS: ${t##*:}" >>"$log"
    else
      fail=$((fail + 1)); echo "--- FAIL: ${t##*:}" >>"$log"
    fi
  done
  record fuzz "$pass" "$fail" 0
  echo "    ($((SECONDS - start)) s)"
}
fuzz_suite

# faults_suite: the short fault table against a two-broker cluster that the
# test starts and stops (tests/broker/cluster.sh); the table is printed.
faults_suite() {
  local log=$LOGS/faults-short.log start=$SECONDS
  (cd tests && PP_FAULTS=short PP_FAULTS_OUT="$ROOT/build/faults-short.md" \
    go test -v -count=1 -timeout 30m -run TestFaults ./faults) >"$log" 2>&1
  local status=$?
  record faults-short "$(grep -c -- '    --- PASS' "$log")" "$(grep -c -- '    --- FAIL' "$log")" "$status"
  sed -n '/^| scenario /,/^$/p' "$log" | sed 's/^/    /'
  echo "    ($((SECONDS - start)) s)"
}
faults_suite

# --- Secured deployment (tests/broker/secure.sh, tests/secure) ---
#
# secure_suite: starts the secured deployment once (a standalone broker
# with TLS, token authentication and authorization; a Pulsar proxy with
# mutual TLS and tokens in front of it; an OAuth2 issuer; its own ports and
# run directory, never the plain broker above) unless it runs already, runs
# tests/secure against it (with the 95 s token-refresh test), and stops what
# it started, whatever happens.
# Inside the subshell the deployment is described by these variables, for
# the suites of other languages to publish over TLS + token and through the
# proxy (add their commands after the go test line; see secure.sh for the
# ports and roles):
#   PP_SECURE_URL          pulsar+ssl://localhost:6661  broker, TLS (trust PP_SECURE_CA)
#   PP_SECURE_PLAIN_URL    pulsar://127.0.0.1:6660      same broker, plaintext, token still required
#   PP_SECURE_PROXY_URL    pulsar+ssl://localhost:6671  proxy: needs PP_SECURE_CLIENT_CERT / _KEY too
#   PP_SECURE_CA, PP_SECURE_CLIENT_CERT, PP_SECURE_CLIENT_KEY   PEM files
#   PP_SECURE_TOKEN, PP_SECURE_TOKEN_FILE    a token of role pp-client (no expiry), and its file
#   PP_SECURE_NAMESPACE    pp/secure, where pp-client may produce and consume
#   PP_SECURE_OAUTH2_ISSUER, PP_SECURE_OAUTH2_CREDENTIALS   issuerUrl and privateKey for authOAuth2
#   PP_SECURE_ADMIN_URL, PP_SECURE_ADMIN_TOKEN_FILE         admin REST API as the superuser
#   PP_SECURE_SECRET_KEY   HS256 key, to mint tokens ($PP_SECURE_DIR/bin/ppsecure token -key $PP_SECURE_SECRET_KEY -ttl 20s)
secure_suite() {
  local log=$LOGS/secure.log start=$SECONDS
  ( if ! tests/broker/secure.sh status >/dev/null 2>&1; then
      trap '"$ROOT"/tests/broker/secure.sh stop >/dev/null 2>&1' EXIT # only what this run started
      tests/broker/secure.sh start || exit 1
    fi
    eval "$(tests/broker/secure.sh env | sed 's/^/export /')"
    export PP_SECURE_REQUIRED=1
    status=0
    (cd tests && PP_SECURE_LONG=1 go test -v -count=1 -timeout 10m ./secure) || status=1
    (cd tests && go test -v -count=1 -run TestCSecure ./capi) || status=1
    (cd build && pyenv/bin/pytest -v -p no:cacheprovider ../bindings/python/tests/test_secure.py) || status=1
    for backend in native wasi; do
      (cd bindings/node && PULSAR_PRODUCER_BACKEND=$backend node --test --test-reporter=tap test/secure.test.js) || status=1
    done
    exit $status
  ) >"$log" 2>&1
  local status=$?
  record secure "$(( $(grep -c -- '--- PASS' "$log") + $(grep -cE '::[^ ]+ PASSED' "$log") + $(grep -cE '^ *ok [0-9]+ ' "$log") ))" \
    "$(( $(grep -c -- '--- FAIL' "$log") + $(grep -cE '::[^ ]+ (FAILED|ERROR)' "$log") + $(grep -cE '^ *not ok [0-9]+ ' "$log") ))" "$status"
  grep -E '^secure deployment ready|^(broker|proxy) +pid' "$log" | sed 's/^/    /'
  echo "    ($((SECONDS - start)) s)"
}
secure_suite

echo
if [ ${#failed_suites[@]} -gt 0 ]; then
  echo "failed suites: ${failed_suites[*]}"
fi
echo "${total_pass} passed, ${total_fail} failed"
[ "$total_fail" = 0 ]

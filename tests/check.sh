#!/usr/bin/env bash
# tests/check.sh - `make check`: the static checks CI runs before the tests.
#
# How it works: each check prints one line, "ok <name>" or "FAIL <name>"
# followed by what it found; the exit code is non-zero if any failed. The
# Python and TypeScript checkers are installed into build/ (PyPI, npm) the
# way tests/run.sh installs them. No broker is needed.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0

run() { # run NAME CMD...: one check
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    printf '%s\n' "$out" | head -40 | sed 's/^/      /'
    failed=1
  fi
}

gofmt_clean() { local l; l=$(gofmt -l core capi examples internal wasm tests); [ -z "$l" ] || { echo "$l"; return 1; }; }
run "gofmt" gofmt_clean
run "go vet" go vet ./...
run "go vet (wasip1)" env GOOS=wasip1 GOARCH=wasm go vet ./wasm/guest/ ./wasm/internal/...
run "go vet (tests module)" bash -c 'cd tests && go vet ./...'
run "docs/OPTIONS.md is generated from the option table" go test -count=1 -run 'TestOptionsDocIsCurrent|TestFieldCommentsMatchTable|TestDefaultsMatchTable' ./core/engine
run "the header's result enum, capi/results.c and the Node package's tables come from engine.Codes and the option table" go test -count=1 -run 'TestHeaderResultsAreCurrent|TestNodeTablesAreCurrent' ./capi
run "the shared library exports exactly the header's functions" bash -c 'cd tests && go test -count=1 -run TestExportedSymbolsMatchHeader ./capi'

python_types() {
  [ -x build/pyenv/bin/python ] || python3 -m venv build/pyenv || return 1
  build/pyenv/bin/pip install -q 'pulsar-client[avro]==3.13.*' pytest mypy || return 1 # what the tests import, so that they are checked too
  (cd bindings/python && ../../build/pyenv/bin/mypy) || return 1
  MYPYPATH=bindings/python build/pyenv/bin/mypy --strict tests/leaks/leak.py tests/integration/testdata/pyconsume.py
}
run "mypy --strict (bindings/python, the tests' Python programs)" python_types

node_types() {
  (cd bindings/node && { [ -d node_modules/typescript ] || npm ci --no-audit --no-fund >/dev/null; } && npx --no-install tsc --noEmit -p test/types)
}
run "tsc --noEmit (bindings/node)" node_types

exit $failed

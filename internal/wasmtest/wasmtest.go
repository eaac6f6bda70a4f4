// Package wasmtest builds the WASI module for tests, the way `make wasm`
// does, so that a test never runs a stale module. It is all that is
// WASI-specific in the tests' support: the broker they play against is the
// project's one fake broker, internal/fakebroker, and tests that need a
// real broker live in the tests module (tests/wasm, with tests/broker). It
// is internal because it runs the Go toolchain: test support, not API.
//
// How this works: the repository root is found from this file's location
// (runtime.Caller), so the helpers work from any test package in either Go
// module of the repository. BuildModule runs `go build` for ./wasm/guest
// every time; go build leaves an up-to-date module alone (well under a
// second).
package wasmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ModuleFile is the module's path relative to the repository root, the
// same as `make wasm` writes.
const ModuleFile = "build/wasm/pulsar_producer.wasm"

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("wasmtest: runtime.Caller failed")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BuildModule builds (or confirms up to date) the module, stripped, and
// returns its absolute path.
func BuildModule() (string, error) {
	root := RepoRoot()
	out := filepath.Join(root, filepath.FromSlash(ModuleFile))
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, "./wasm/guest")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("wasmtest: building the module: %v\n%s", err, msg)
	}
	return out, nil
}

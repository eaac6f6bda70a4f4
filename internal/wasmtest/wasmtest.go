// Package wasmtest helps tests of the WASI build: it builds the module the
// way `make wasm` does, and plays a broker without a network (FakeBroker,
// and Serve for a whole client). It never needs or starts a real broker:
// tests that do live in the tests module (tests/wasm), which uses
// tests/broker. It is internal because it imports testing and os/exec and
// runs the Go toolchain: test support, not API.
//
// How this works: the repository root is found from this file's location
// (runtime.Caller), so the helpers work from any test package in either Go
// module of the repository. BuildModule runs `go build` for ./wasm/guest
// every time; go build leaves an up-to-date module alone (well under a
// second), so a test never runs a stale module.
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

// Package wasmtest helps tests of the WASI build: it builds the module the
// way `make wasm` does and checks that the test broker is reachable.
//
// How this works: the repository root is found from this file's location
// (runtime.Caller), so the helpers work from any test package in either Go
// module of the repository. BuildModule runs `go build` for ./wasm/guest
// every time; go build leaves an up-to-date module alone (well under a
// second), so a test never runs a stale module.
package wasmtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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

// ServiceURL is the test broker's URL: $PULSAR_SERVICE_URL, or
// pulsar://127.0.0.1:6650.
func ServiceURL() string {
	if u := os.Getenv("PULSAR_SERVICE_URL"); u != "" {
		return u
	}
	return "pulsar://127.0.0.1:6650"
}

func reachable(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// RequireBroker fails the test unless the broker's binary port answers. If
// it does not, and tests/broker/broker.sh exists, it runs `broker.sh start`
// once (which waits for readiness) and checks again.
func RequireBroker(t testing.TB) {
	t.Helper()
	u, err := url.Parse(ServiceURL())
	if err != nil {
		t.Fatalf("wasmtest: bad PULSAR_SERVICE_URL %q: %v", ServiceURL(), err)
	}
	addr := u.Host
	if reachable(addr) {
		return
	}
	script := filepath.Join(RepoRoot(), "tests", "broker", "broker.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("wasmtest: no Pulsar broker at %s and no %s to start one", addr, script)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script, "start").CombinedOutput()
	if err != nil {
		t.Fatalf("wasmtest: no Pulsar broker at %s, and `%s start` failed: %v\n%s", addr, script, err, out)
	}
	if !reachable(addr) {
		t.Fatalf("wasmtest: `%s start` finished but nothing answers at %s\n%s", script, addr, strings.TrimSpace(string(out)))
	}
}

// Topic returns a fresh topic name for a test.
func Topic(t testing.TB, prefix string) string {
	return fmt.Sprintf("persistent://public/default/%s-%d", prefix, time.Now().UnixNano())
}

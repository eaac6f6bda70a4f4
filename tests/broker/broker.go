// Package broker gives the integration tests a real Apache Pulsar broker and
// a few admin helpers over its REST API.
//
// How this works: broker.sh (next to this file) installs the Pulsar server
// distribution into a cache directory outside the repository and runs a
// standalone broker on 127.0.0.1 (6650 binary protocol, 8080 admin HTTP).
// Require checks readiness (the admin API lists public/default) and, if the
// broker is not up, runs `broker.sh start`, which is safe to call from several
// test processes at once (it takes a file lock). The broker is left running;
// `broker.sh stop` (or make test) stops it.
//
// Environment:
//
//	PULSAR_SERVICE_URL  binary protocol URL (default pulsar://127.0.0.1:6650)
//	PULSAR_ADMIN_URL    admin REST URL (default http://127.0.0.1:8080)
//	PP_CACHE, PULSAR_VERSION, PP_BROKER_START_TIMEOUT are read by broker.sh.
package broker

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	defaultServiceURL = "pulsar://127.0.0.1:6650"
	defaultAdminURL   = "http://127.0.0.1:8080"
)

// ServiceURL is the broker's binary protocol URL (env PULSAR_SERVICE_URL).
func ServiceURL() string {
	if u := os.Getenv("PULSAR_SERVICE_URL"); u != "" {
		return u
	}
	return defaultServiceURL
}

// AdminURL is the broker's admin REST base URL without a trailing slash
// (env PULSAR_ADMIN_URL).
func AdminURL() string {
	if u := os.Getenv("PULSAR_ADMIN_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return defaultAdminURL
}

// Script is the absolute path of broker.sh, found relative to this source
// file so it works from any test package's working directory.
func Script() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("broker: runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "broker.sh")
}

var (
	homeOnce sync.Once
	homeDir  string
	homeErr  error
)

// PulsarHome is the directory of the extracted Pulsar distribution that
// broker.sh uses (it honours PP_CACHE and PULSAR_VERSION). It does not
// install anything: call Require (or `broker.sh install`) first. It panics if
// the script cannot be run.
func PulsarHome() string {
	homeOnce.Do(func() {
		out, err := exec.Command("bash", Script(), "home").Output()
		homeDir, homeErr = strings.TrimSpace(string(out)), err
	})
	if homeErr != nil {
		panic("broker: " + Script() + " home: " + homeErr.Error())
	}
	return homeDir
}

// Ready reports whether the broker answers the readiness check: the admin API
// lists the namespace public/default.
func Ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, AdminURL()+"/admin/v2/namespaces/public", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"public/default"`)
}

var startMu sync.Mutex

// Require makes sure a broker is ready, starting one with `broker.sh start`
// if needed (which waits for readiness). It fails the test with the script's
// output if that does not work. The broker is left running.
func Require(t testing.TB) {
	t.Helper()
	if Ready() {
		return
	}
	startMu.Lock()
	defer startMu.Unlock()
	if Ready() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", Script(), "start")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("broker: %s start failed after %v: %v\n%s", Script(), time.Since(start).Round(time.Millisecond), err, out)
	}
	if !Ready() {
		t.Fatalf("broker: %s start succeeded but the broker is not ready at %s\n%s", Script(), AdminURL(), out)
	}
	t.Logf("broker: started in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
}

// RunTool runs a command-line tool of the distribution, e.g.
// RunTool(t, "pulsar-client", "produce", "-m", "hello", "-n", "1", topic),
// and returns its combined output; it fails the test (with that output) if
// the tool fails. The tools log into $PULSAR_HOME/logs by default: they are
// pointed at a temporary directory instead so the distribution stays
// pristine. Each call starts a JVM (a few seconds).
func RunTool(t testing.TB, tool string, args ...string) []byte {
	t.Helper()
	Require(t)
	cmd := exec.Command(filepath.Join(PulsarHome(), "bin", tool), args...)
	cmd.Env = append(os.Environ(), "PULSAR_LOG_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("broker: %s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return out
}

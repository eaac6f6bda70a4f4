// Test setup: every test in this package runs the module freshly built from
// ./guest (wasmtest.BuildModule), found through $PULSAR_PRODUCER_WASM the
// way a user's program finds it.
package wasm

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/pulsar-producer/pulsar-producer/internal/wasmtest"
)

func TestMain(m *testing.M) {
	path, err := wasmtest.BuildModule()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv(ModuleEnv, path)
	os.Exit(m.Run())
}

// testModule loads the module, failing the test if it cannot.
func testModule(t testing.TB) *Module {
	t.Helper()
	m, err := DefaultModule()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestModuleCache prints how long the module takes to compile cold, from
// wazero's on-disk cache, and from the in-process cache. Figures, not
// timing assertions.
func TestModuleCache(t *testing.T) {
	ctx := context.Background()
	bin, err := os.ReadFile(os.Getenv(ModuleEnv))
	if err != nil {
		t.Fatal(err)
	}
	compile := func(cfg wazero.RuntimeConfig) time.Duration {
		rt := wazero.NewRuntimeWithConfig(ctx, cfg)
		defer rt.Close(ctx)
		start := time.Now()
		if _, err := rt.CompileModule(ctx, bin); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var cold time.Duration
	if !testing.Short() { // a cold compile takes seconds, a minute under -race
		cold = compile(wazero.NewRuntimeConfig())
	}
	cache, err := wazero.NewCompilationCacheWithDir(CacheDir())
	if err != nil {
		t.Fatal(err)
	}
	compile(wazero.NewRuntimeConfig().WithCompilationCache(cache)) // fill it if empty
	disk := compile(wazero.NewRuntimeConfig().WithCompilationCache(cache))
	testModule(t)
	start := time.Now()
	testModule(t)
	again := time.Since(start)
	t.Logf("module %d bytes: cold compile %v (0: skipped by -short); from the disk cache %v; in-process cache %v",
		len(bin), cold.Round(time.Millisecond), disk.Round(time.Millisecond), again.Round(time.Microsecond))
}

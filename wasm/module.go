// Loading and compiling the module, with two caches.
//
// How this works: the module is loaded from a file, not embedded (it is a
// build product: `make wasm` writes build/wasm/pulsar_producer.wasm). The
// path is $PULSAR_PRODUCER_WASM, or else build/wasm/pulsar_producer.wasm in
// the working directory or the nearest ancestor that has one; LoadModule
// takes an explicit path. All clients share one wazero runtime whose
// compilation cache lives under the user cache directory, so a process pays
// the compile once per module content and later processes load the compiled
// code from disk; compiled modules are also kept in-process by content hash.
// Each client gets its own module instance (its own linear memory and
// engine), driven through Engine (engine.go).
package wasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// ModuleEnv names the environment variable that holds the module's path.
const ModuleEnv = "PULSAR_PRODUCER_WASM"

// DefaultModuleFile is where `make wasm` writes the module, relative to the
// repository root.
const DefaultModuleFile = "build/wasm/pulsar_producer.wasm"

// Module is a compiled pulsar_producer.wasm, ready to instantiate. It is
// safe for concurrent use and lives as long as the process.
type Module struct {
	path     string
	compiled wazero.CompiledModule
}

// Path is the file the module was loaded from.
func (m *Module) Path() string { return m.path }

// The process-wide runtime and the in-process cache of compiled modules.
var (
	runtimeOnce sync.Once
	sharedRT    wazero.Runtime
	runtimeErr  error

	modulesMu sync.Mutex
	modules   = map[[32]byte]*Module{} // by content hash
	byPath    = map[string]pathEntry{} // skips reading an unchanged file again
)

// pathEntry remembers which module a file held when last loaded.
type pathEntry struct {
	size    int64
	modTime time.Time
	module  *Module
}

// CacheDir is the directory of wazero's compilation cache: pulsar-producer/
// wazero under os.UserCacheDir, or under the temporary directory if there
// is no user cache directory.
func CacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "pulsar-producer", "wazero")
}

func sharedRuntime() (wazero.Runtime, error) {
	runtimeOnce.Do(func() {
		ctx := context.Background()
		cfg := wazero.NewRuntimeConfig()
		if cache, err := wazero.NewCompilationCacheWithDir(CacheDir()); err == nil {
			cfg = cfg.WithCompilationCache(cache)
		} // else: an unwritable cache directory only costs compile time
		sharedRT = wazero.NewRuntimeWithConfig(ctx, cfg)
		_, runtimeErr = wasi_snapshot_preview1.Instantiate(ctx, sharedRT)
	})
	return sharedRT, runtimeErr
}

// DefaultModulePath returns $PULSAR_PRODUCER_WASM if set, else the first
// build/wasm/pulsar_producer.wasm found in the working directory or one of
// its ancestors, else "" .
func DefaultModulePath() string {
	if p := os.Getenv(ModuleEnv); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(DefaultModuleFile))
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// DefaultModule loads the module at DefaultModulePath.
func DefaultModule() (*Module, error) {
	p := DefaultModulePath()
	if p == "" {
		return nil, fmt.Errorf("wasm: no module: set %s or run `make wasm` to build %s", ModuleEnv, DefaultModuleFile)
	}
	return LoadModule(p)
}

// LoadModule reads and compiles the module at path. A module with the same
// content is compiled once per process (and, through the on-disk cache,
// once per machine and wazero version); a file whose size and modification
// time have not changed since the last load is not even read again.
func LoadModule(path string) (*Module, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("wasm: reading the module: %w", err)
	}
	modulesMu.Lock()
	e, ok := byPath[path]
	modulesMu.Unlock()
	if ok && e.size == fi.Size() && e.modTime.Equal(fi.ModTime()) {
		return e.module, nil
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("wasm: reading the module: %w", err)
	}
	m, err := compileModule(path, bin)
	if err != nil {
		return nil, err
	}
	modulesMu.Lock()
	byPath[path] = pathEntry{size: fi.Size(), modTime: fi.ModTime(), module: m}
	modulesMu.Unlock()
	return m, nil
}

func compileModule(path string, bin []byte) (*Module, error) {
	sum := sha256.Sum256(bin)
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m := modules[sum]; m != nil {
		return m, nil
	}
	rt, err := sharedRuntime()
	if err != nil {
		return nil, fmt.Errorf("wasm: starting wazero: %w", err)
	}
	cm, err := rt.CompileModule(context.Background(), bin)
	if err != nil {
		return nil, fmt.Errorf("wasm: compiling %s: %w", path, err)
	}
	if err := checkExports(cm); err != nil {
		return nil, fmt.Errorf("wasm: %s: %w", path, err)
	}
	m := &Module{path: path, compiled: cm}
	modules[sum] = m
	return m, nil
}

// checkExports makes sure the module has every export the host calls, so a
// wrong file fails at load time rather than at the first send.
func checkExports(cm wazero.CompiledModule) error {
	have := cm.ExportedFunctions()
	var missing []string
	for _, name := range exportNames {
		if _, ok := have[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a pulsar-producer module: missing exports %v", missing)
	}
	return nil
}

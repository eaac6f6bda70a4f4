// The C ABI from C and C++: this test compiles the programs in tests/c with
// -Wall -Wextra -Werror under AddressSanitizer and UndefinedBehaviorSanitizer
// (whose leak checker sees every malloc the library makes, and nothing of
// the Go heap), links them against the shared library and, separately, the
// static archive, runs them against the real broker, and reads what they
// published back with the official Java client. It also checks that the
// shared library exports exactly the functions the header declares.
package capi

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/javacheck"
)

var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()

var (
	header  = filepath.Join(root, "include", "pulsar_producer.h")
	libDir  = filepath.Join(root, "build", "lib")
	shared  = filepath.Join(libDir, "libpulsar_producer.so")
	archive = filepath.Join(libDir, "libpulsar_producer.a")
)

func TestMain(m *testing.M) {
	for _, f := range []string{shared, archive} {
		if _, err := os.Stat(f); err != nil {
			fmt.Fprintf(os.Stderr, "capi tests: %s is missing; run `make lib` first\n", f)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

var sanitize = []string{"-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"}

// build compiles src into a program linked the given way.
func build(t *testing.T, src string, static bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
	cc, std := "gcc", "-std=c99"
	if strings.HasSuffix(src, ".cpp") {
		cc, std = "g++", "-std=c++17"
	}
	args := append([]string{std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", filepath.Join(root, "include")}, sanitize...)
	args = append(args, "-o", out, filepath.Join(root, "tests", "c", src))
	if static {
		args = append(args, archive, "-lpthread", "-lm")
	} else {
		args = append(args, "-L", libDir, "-lpulsar_producer", "-Wl,-rpath,"+libDir, "-lpthread")
	}
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out
}

// published is one MSG line of a program: what it sent (its payload, or a
// label naming it) and the ID it got.
type published struct {
	payload string
	id      [5]int64
}

// run runs a test program with the broker's URL and topic (and extra
// arguments) and returns the MSG lines it printed.
func run(t *testing.T, prog, topic string, extra ...string) []published {
	t.Helper()
	return runProgram(t, prog, runOptions{args: append([]string{broker.ServiceURL(), topic}, extra...)})
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// verifyWithJava reads the topic with the Java client and finds every
// published message at the ID the program got, with its payload.
func verifyWithJava(t *testing.T, topic string, msgs []published, total int) {
	t.Helper()
	got := javacheck.Consume(t, topic, total, javacheck.Options{})
	byID := map[[5]int64]javacheck.Message{}
	for _, m := range got {
		byID[[5]int64{m.LedgerID, m.EntryID, int64(m.Partition), int64(m.BatchIndex), int64(m.BatchSize)}] = m
	}
	for _, p := range msgs {
		m, ok := byID[p.id]
		switch {
		case !ok:
			t.Errorf("message %q: the program was told %v, the Java client found nothing there", p.payload, p.id)
		case p.payload == "(null)":
			if !m.NullValue || len(m.Payload) != 0 {
				t.Errorf("tombstone at %v read as %q null=%v", p.id, m.Payload, m.NullValue)
			}
		case string(m.Payload) != p.payload:
			t.Errorf("at %v the program sent %q, the Java client read %q", p.id, p.payload, m.Payload)
		}
	}
}

func TestCProgram(t *testing.T) {
	broker.Require(t)
	for _, static := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "static"}[static], func(t *testing.T) {
			prog := build(t, "pp_test.c", static)
			topic := broker.NewTopic(t, "c-abi")
			msgs := run(t, prog, topic)
			if len(msgs) != 132 {
				t.Fatalf("%d MSG lines, want 132", len(msgs))
			}
			// 120 + 1 empty + 5 drained + 10 stopped + 2000 threaded + 2 + 5 batched
			verifyWithJava(t, topic, msgs, 2143)
		})
	}
}

// httpURL names the broker's HTTP admin port as a pulsar:// URL.
func httpURL() string {
	u := broker.AdminURL()
	return "pulsar://" + strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
}

// TestCClientProgram runs pp_client_test.c: clients with many producers and
// the hardening of the ABI. Its field-* messages carry every metadata field;
// the Java client must read each back as sent.
func TestCClientProgram(t *testing.T) {
	broker.Require(t)
	prog := build(t, "pp_client_test.c", false)
	topic := broker.NewTopic(t, "c-client")
	msgs := run(t, prog, topic, httpURL())
	// "after" (1), "slow" (20), "parent" (1), "fd" (1) and six field messages
	got := javacheck.Consume(t, topic, 29, javacheck.Options{SubscriptionType: "shared"})
	byPayload := map[string]javacheck.Message{}
	for _, m := range got {
		byPayload[string(m.Payload)] = m
	}
	for _, p := range msgs {
		m, ok := byPayload[p.payload]
		if !ok {
			t.Errorf("%s: the Java client did not find it", p.payload)
			continue
		}
		if id := [5]int64{m.LedgerID, m.EntryID, int64(m.Partition), int64(m.BatchIndex), int64(m.BatchSize)}; id != p.id {
			t.Errorf("%s: the program got ID %v, the Java client read %v", p.payload, p.id, id)
		}
		checkFields(t, p.payload, m)
	}
}

// checkFields compares the metadata of a field-* message with what
// pp_client_test.c sent.
func checkFields(t *testing.T, name string, m javacheck.Message) {
	t.Helper()
	bad := func(format string, args ...any) { t.Errorf(name+": "+format, args...) }
	switch name {
	case "field-emptykey":
		if !m.HasKey || m.Key != "" {
			bad("key: has %v %q, want an empty key", m.HasKey, m.Key)
		}
	case "field-seq":
		if m.SequenceID != 777777 {
			bad("sequence ID %d, want 777777", m.SequenceID)
		}
	case "field-local":
		if len(m.ReplicateTo) != 1 || m.ReplicateTo[0] != "__local__" {
			bad("replicate_to %v, want [__local__]", m.ReplicateTo)
		}
	case "field-deliver":
		if m.DeliverAtTime == nil || *m.DeliverAtTime < m.PublishTime {
			bad("deliver-at %v, publish time %d", m.DeliverAtTime, m.PublishTime)
		}
	case "field-binkey":
		if !m.HasKey || m.Key != "a\x00b" || string(m.OrderingKey) != "\x01\x02" || m.Properties["k\x00ey"] != "v\x00al" {
			bad("key %q, ordering key %q, properties %q", m.Key, m.OrderingKey, m.Properties)
		}
	case "field-clusters":
		if len(m.ReplicateTo) != 1 || m.ReplicateTo[0] != "standalone" || m.EventTime != 1700000000999 {
			bad("replicate_to %v, event time %d", m.ReplicateTo, m.EventTime)
		}
	default:
		if m.HasKey || len(m.Properties) > 0 || m.DeliverAtTime != nil {
			bad("unexpected metadata: key %v %q, properties %v", m.HasKey, m.Key, m.Properties)
		}
	}
}

func TestCxxProgram(t *testing.T) {
	broker.Require(t)
	for _, static := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared", true: "static"}[static], func(t *testing.T) {
			prog := build(t, "raii_test.cpp", static)
			topic := broker.NewTopic(t, "cxx-abi")
			msgs := run(t, prog, topic)
			if len(msgs) != 300 {
				t.Fatalf("%d MSG lines, want 300", len(msgs))
			}
			verifyWithJava(t, topic, msgs, 300)
		})
	}
}

func TestBenchmarkProgramBuilds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench")
	args := []string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", filepath.Join(root, "include"),
		"-o", out, filepath.Join(root, "tests", "c", "bench.c"), "-L", libDir, "-lpulsar_producer", "-lpthread"}
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestHeaderCompilesAsCAndCxx(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "h.c")
	if err := os.WriteFile(src, []byte("#include \"pulsar_producer.h\"\nint main(void) { pp_message m; pp_message_init(&m); return (int)m.struct_size * 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{
		{"gcc", "-std=c99", "-pedantic", "-x", "c"},
		{"gcc", "-std=c11", "-pedantic", "-x", "c"},
		{"g++", "-std=c++11", "-pedantic", "-x", "c++"},
		{"g++", "-std=c++20", "-pedantic", "-x", "c++"},
	} {
		args := append(c[1:], "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", filepath.Join(root, "include"), src)
		if b, err := exec.Command(c[0], args...).CombinedOutput(); err != nil {
			t.Errorf("%s %v: %v\n%s", c[0], args, err, b)
		}
	}
}

// declared returns the pp_* functions the header declares.
func declared(t *testing.T) []string {
	b, err := os.ReadFile(header)
	if err != nil {
		t.Fatal(err)
	}
	// Drop comments, then find "pp_name(" at the start of a declaration.
	src := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAllString(string(b), "")
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^[a-z_ ]*[ *](pp_[a-z0-9_]+)\(`).FindAllStringSubmatch(src, -1) {
		if strings.HasSuffix(m[1], "_cb") || m[1] == "pp_delivery_cb" {
			continue // a typedef of a callback, not a function
		}
		seen[m[1]] = true
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestExportedSymbolsMatchHeader(t *testing.T) {
	out, err := exec.Command("nm", "-D", "--defined-only", shared).Output()
	if err != nil {
		t.Fatal(err)
	}
	var exported []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && (f[1] == "T" || f[1] == "D" || f[1] == "B" || f[1] == "R") {
			exported = append(exported, f[2])
		}
	}
	sort.Strings(exported)
	want := declared(t)
	if len(want) < 19 {
		t.Fatalf("found only %d declarations in the header: %v", len(want), want)
	}
	if strings.Join(exported, " ") != strings.Join(want, " ") {
		t.Fatalf("exported symbols differ from the header:\nexported: %v\ndeclared: %v", exported, want)
	}
}

// The header's result enum and the C result table (results.c) are
// generated from engine.Codes, so the codes have one source. These tests
// fail when either is stale; -update rewrites both.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

var update = flag.Bool("update", false, "rewrite the generated parts of the header and results.c")

// cName is a code's name in C: PP_OK, or PP_ERR_ and its name in upper
// snake case without an "Error" suffix (LookupError: PP_ERR_LOOKUP).
func cName(c engine.CodeInfo) string {
	if c.Code == engine.CodeOK {
		return "PP_OK"
	}
	name := strings.TrimSuffix(c.Name, "Error")
	var b strings.Builder
	for i, r := range name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return "PP_ERR_" + b.String()
}

const (
	beginMark = "/* BEGIN GENERATED RESULTS: core/engine/errors.go; `go test ./capi -run TestHeader -update` */\n"
	endMark   = "/* END GENERATED RESULTS */\n"
)

func enumBlock() string {
	width := 0
	for _, c := range engine.Codes {
		width = max(width, len(fmt.Sprintf("    %s = %d,", cName(c), c.Code)))
	}
	var b strings.Builder
	for i, c := range engine.Codes {
		sep := ","
		if i == len(engine.Codes)-1 {
			sep = ""
		}
		line := fmt.Sprintf("    %s = %d%s", cName(c), c.Code, sep)
		fmt.Fprintf(&b, "%-*s /* %s */\n", width, line, c.Description)
	}
	return b.String()
}

func resultsC() string {
	var b strings.Builder
	b.WriteString("/* results.c - the result table of pp_result_table(). Generated from\n")
	b.WriteString(" * core/engine/errors.go by `go test ./capi -run TestHeader -update`; do not\n")
	b.WriteString(" * edit. Plain C data, so that it works before the Go runtime has started\n")
	b.WriteString(" * and in a forked child. */\n")
	b.WriteString("#include \"pulsar_producer.h\"\n\n")
	b.WriteString("const pp_result_info ppx_results[] = {\n")
	for _, c := range engine.Codes {
		retriable := 0
		if c.Retriable {
			retriable = 1
		}
		fmt.Fprintf(&b, "    {%s, %q, %q, %d, %q},\n", cName(c), c.Name, c.Kind.String(), retriable, c.Description)
	}
	b.WriteString("};\n\nconst size_t ppx_result_count = sizeof ppx_results / sizeof ppx_results[0];\n")
	return b.String()
}

func TestHeaderResultsAreCurrent(t *testing.T) {
	path := filepath.Join("..", "include", "pulsar_producer.h")
	h, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	a, b := strings.Index(s, beginMark), strings.Index(s, endMark)
	if a < 0 || b < a {
		t.Fatal("the header has no generated results block")
	}
	want := s[:a+len(beginMark)] + enumBlock() + s[b:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("results.c", []byte(resultsC()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if s != want {
		t.Error("the header's result enum is stale: run go test ./capi -run TestHeader -update")
	}
	got, err := os.ReadFile("results.c")
	if err != nil || string(got) != resultsC() {
		t.Error("capi/results.c is stale: run go test ./capi -run TestHeader -update")
	}
}

// The header's result enum and the C result table (results.c) are
// generated from engine.Codes, so the codes have one source; so is the
// Node package's tables.json, the result table and pp_options_json()'s
// option table for when the native library is not loaded (its WASI
// backend). These tests fail when any is stale; -update rewrites them.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unsafe"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

var update = flag.Bool("update", false, "rewrite the generated parts of the header, results.c and bindings/node/lib/tables.json")

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

// nodeTablesPath is the Node package's copy of the tables.
var nodeTablesPath = filepath.Join("..", "bindings", "node", "lib", "tables.json")

// optionsJSONText is the text pp_options_json() returns (outside a forked
// child): the static C string ppgo_options_json hands it.
func optionsJSONText() []byte {
	p := unsafe.Pointer(ppgo_options_json())
	n := 0
	for *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	return bytes.Clone(unsafe.Slice((*byte)(p), n))
}

// nodeTables is tables.json: {"results": the rows of pp_result_table() in
// its order, "options": the array of pp_options_json()}, indented by two
// spaces, with a final newline.
func nodeTables() ([]byte, error) {
	type result struct {
		Result      int32  `json:"result"`
		Name        string `json:"name"`
		Kind        string `json:"kind"`
		Retriable   bool   `json:"retriable"`
		Description string `json:"description"`
	}
	rows := make([]result, 0, len(engine.Codes))
	for _, c := range engine.Codes {
		rows = append(rows, result{int32(c.Code), c.Name, c.Kind.String(), c.Retriable, c.Description})
	}
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Results []result        `json:"results"`
		Options json.RawMessage `json:"options"`
	}{rows, optionsJSONText()})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(compact.Bytes()), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func TestNodeTablesAreCurrent(t *testing.T) {
	want, err := nodeTables()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(nodeTablesPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(nodeTablesPath)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (%v): run go test ./capi -run TestNodeTables -update", nodeTablesPath, err)
	}
	// What the Node package reads: every code once, in order, and the
	// option array as pp_options_json() returns it.
	var tables struct {
		Results []struct {
			Result    int32 `json:"result"`
			Name      string
			Retriable *bool
		} `json:"results"`
		Options []map[string]any `json:"options"`
	}
	if err := json.Unmarshal(got, &tables); err != nil {
		t.Fatal(err)
	}
	var options []map[string]any
	if err := json.Unmarshal(optionsJSONText(), &options); err != nil {
		t.Fatal(err)
	}
	if len(tables.Results) != len(engine.Codes) || len(tables.Options) != len(engine.OptionTable) || len(options) != len(engine.OptionTable) {
		t.Fatalf("%d results and %d options; want %d and %d", len(tables.Results), len(tables.Options), len(engine.Codes), len(engine.OptionTable))
	}
	for i, r := range tables.Results {
		if c := engine.Codes[i]; r.Result != int32(c.Code) || r.Name != c.Name || r.Retriable == nil || *r.Retriable != c.Retriable {
			t.Errorf("row %d: %+v, want code %d %s", i, r, c.Code, c.Name)
		}
	}
	for i, o := range tables.Options {
		if fmt.Sprint(o) != fmt.Sprint(options[i]) || o["name"] != engine.OptionTable[i].Name {
			t.Errorf("option %d: %v, want %v", i, o, options[i])
		}
	}
}

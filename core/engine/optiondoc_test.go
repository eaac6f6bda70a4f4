package engine

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/OPTIONS.md")

func TestOptionsDocIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "OPTIONS.md")
	want := OptionsMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no docs tree here (%v)", err)
	}
	if string(got) != want {
		t.Fatal("docs/OPTIONS.md is stale: run go test ./core/engine -run TestOptionsDoc -update")
	}
}

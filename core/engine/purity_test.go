// The engine must stay free of I/O: it runs inside a wasip1 module, where
// there are no sockets and goroutines do not run between calls. This test
// reads the package's own source and fails on any import of net, os or
// sync (or their subpackages), any go statement, and any call that reads
// the clock or sleeps.
package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestEngineIsSansIO(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	banned := []string{"net", "os", "sync", "syscall", "unsafe", "runtime"}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		checked++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, b := range banned {
				if path == b || strings.HasPrefix(path, b+"/") {
					t.Errorf("%s imports %q: the engine must not do I/O or synchronization", fset.Position(imp.Pos()), path)
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", fset.Position(x.Pos()))
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok && id.Name == "time" && clock[x.Sel.Name] {
					t.Errorf("%s uses time.%s: time must be passed in", fset.Position(x.Pos()), x.Sel.Name)
				}
			case *ast.SelectStmt:
				t.Errorf("%s uses select", fset.Position(x.Pos()))
			case *ast.SendStmt:
				t.Errorf("%s sends on a channel", fset.Position(x.Pos()))
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; is the test running in the engine directory?", checked)
	}
}

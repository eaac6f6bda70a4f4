// The options reference, generated from OptionTable: docs/OPTIONS.md is
// this function's output, and a test fails when the two differ.
package engine

import (
	"strings"
)

// OptionsMarkdown renders OptionTable as the Markdown reference.
func OptionsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Options\n\n")
	b.WriteString("<!-- Generated from core/engine/optiontable.go by `go test ./core/engine -run TestOptionsDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every option has one name, spelled per language: `camelCase` in JSON (the C ABI, Node and the WASI module), ")
	b.WriteString("`snake_case` in Python, and the Go field name in `core.ClientOptions` / `core.ProducerOptions`. ")
	b.WriteString("Durations are milliseconds outside Go. In Go a zero value means the default. ")
	b.WriteString("The service URL and the topic are arguments of every API, not options.\n\n")
	for _, scope := range []string{"client", "producer"} {
		if scope == "client" {
			b.WriteString("## Client options\n\n")
		} else {
			b.WriteString("## Producer options\n\n")
		}
		b.WriteString("| JSON / Node | Python | Go | Type | Default | Meaning |\n|---|---|---|---|---|---|\n")
		for _, o := range OptionTable {
			if o.Scope != scope {
				continue
			}
			typ := string(o.Type)
			if o.Type == OptEnum {
				typ = "one of " + strings.Join(o.Values, ", ")
			}
			b.WriteString("| `" + o.Name + "` | `" + o.SnakeName() + "` | `" + o.GoName + "` | " + typ + " | " + o.Default + " | " + o.Doc + " |\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

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
	b.WriteString("Durations are milliseconds outside Go. In Go a zero value means the default; elsewhere an option ")
	b.WriteString("that is given must lie in its range, and an option given twice, or in the wrong scope (a producer ")
	b.WriteString("option among the client options), is refused. ")
	b.WriteString("The service URL and the topic are arguments of every API, not options.\n\n")
	for _, scope := range []Scope{ScopeClient, ScopeProducer} {
		if scope == ScopeClient {
			b.WriteString("## Client options\n\nShared by every producer of a client.\n\n")
		} else {
			b.WriteString("## Producer options\n\n")
		}
		b.WriteString("| JSON / Node | Python | Go | Type | Range | Default | Meaning |\n|---|---|---|---|---|---|---|\n")
		for i := range OptionTable {
			o := &OptionTable[i]
			if o.Scope != scope {
				continue
			}
			typ, rng := string(o.Type), ""
			switch o.Type {
			case OptEnum:
				typ, rng = "enum", "one of "+strings.Join(o.Values, ", ")
			case OptInteger, OptMilliseconds:
				rng = o.rangeText()
			}
			b.WriteString("| `" + o.Name + "` | `" + o.SnakeName() + "` | `" + o.GoName + "` | " + typ + " | " + rng + " | " + o.DefaultText() + " | " + o.Doc + " |\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(routingNotes)
	b.WriteString(startupNotes)
	return b.String()
}

// DefaultText is the default as the documentation states it, with its
// unit.
func (s *OptionSpec) DefaultText() string {
	if s.Type == OptMilliseconds {
		return s.Default + " ms"
	}
	return s.Default
}

const routingNotes = `## How messages are routed on a partitioned topic

- A message with a key goes to the partition its key hashes to (` + "`hashingScheme`" + `), so
  every message with one key lands on one partition, in order. An empty key is a key
  (it hashes to partition 0 with either scheme), as in the Java client.
- A keyless message, with ` + "`routingMode`" + ` roundRobin and batching on, goes to the
  partition of the current time window: windows are ` + "`batchingMaxPublishDelay`" + ` long
  (at least 1 ms) and each window moves to the next partition, as in the Java client. So
  every keyless message sent within one window goes to one partition and fills one batch
  there; a burst sent faster than a window is not spread over the partitions message by
  message. With batching off, the round moves on with every message.
- With singlePartition, every keyless message goes to one partition picked at random
  when the producer starts.
`

const startupNotes = `
## Why startupDelay and startupJitter default to 0

The official clients wait nothing before a producer's first lookup, and only
their reconnect backoff before a re-registration; so do we by default, so that
a producer created here starts as fast as theirs. Some libraries wait 1 s plus
up to 1 s of jitter on every start: that spreads a herd of producers after a
cluster restart, but costs every single producer a second at creation. Fleets
that restart together should set both (the wait comes on top of the backoff's
own jitter of up to 20% of each delay); everyone else pays nothing.
`

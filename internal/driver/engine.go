// The engine the runtime drives.
//
// Usually that is *engine.Engine itself. The WASI host drives the same
// engine compiled into a WebAssembly module: it implements this interface
// by calling the module's exports, and gets the whole runtime (sockets,
// timer, completion delivery, the producer API) from this package.
package driver

import (
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// Engine is the sans-I/O protocol engine as the runtime sees it. Its
// methods are those of *engine.Engine; see there for their contracts. The
// runtime serializes every call.
type Engine interface {
	Options() engine.ClientOptions
	ConnOpened(id engine.ConnID, now time.Time)
	ConnFailed(id engine.ConnID, cause error, now time.Time)
	ConnClosed(id engine.ConnID, cause error, now time.Time)
	Receive(id engine.ConnID, p []byte, now time.Time)
	TakeOutput(spare []byte) (engine.ConnID, []byte, bool)
	Deadline() (time.Time, bool)
	Tick(now time.Time)
	AppendEvents(dst []engine.Event) []engine.Event
	CreateProducer(opts engine.ProducerOptions, now time.Time) (engine.ProducerID, error)
	Send(id engine.ProducerID, msg *engine.Message, token uint64, now time.Time) error
	NeedsTime(id engine.ProducerID, msg *engine.Message) bool
	Flush(id engine.ProducerID, now time.Time) error
	CloseProducer(id engine.ProducerID, now time.Time) error
	AbortProducer(id engine.ProducerID, cause error, now time.Time)
	Close(now time.Time)
	NumPartitions(id engine.ProducerID) int
	Room(id engine.ProducerID) (messages int, bytes int64)
	SetCredentials(method string, data []byte)
	AnswerChallenge(id engine.ConnID, method string, data []byte, now time.Time)
	ProducerStats(id engine.ProducerID) (engine.ProducerStats, bool)
	ClientStats() engine.ClientStats
}

var _ Engine = (*engine.Engine)(nil)

// send hands msg to the engine, reading the clock only when the engine
// needs it (or force is set). Passing msg through the interface would make
// every message escape to the heap (the compiler cannot see that the engine
// keeps nothing), so the native engine is called directly, and another
// engine gets a copy in the client's scratch message. Called with mu held.
func (c *Client) send(id engine.ProducerID, msg *engine.Message, token uint64, force bool) error {
	if e, ok := c.eng.(*engine.Engine); ok {
		now := c.lastNow
		if force || e.NeedsTime(id, msg) {
			now = c.now()
		}
		return e.Send(id, msg, token, now)
	}
	m := &c.scratch
	*m = *msg
	now := c.lastNow
	if force || c.eng.NeedsTime(id, m) {
		now = c.now()
	}
	err := c.eng.Send(id, m, token, now)
	*m = engine.Message{}
	return err
}

// The WASI host in a secured cluster: the engine runs in the wasip1 module
// while the host does TLS and fetches credentials, so the same options
// reach the broker over TLS with a token, and the proxy with mutual TLS.
// The official Go client reads everything back.
package secure

import (
	"log/slog"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core"
	ppwasm "github.com/pulsar-producer/pulsar-producer/wasm"
)

// mustWasiClient is mustClient with the engine in the WASI module.
func mustWasiClient(t *testing.T, opts core.ClientOptions) (*core.Client, *logSink) {
	t.Helper()
	sink := &logSink{}
	opts.Logger = slog.New(sinkHandler{sink: sink})
	opts.LogLevel = core.LogDebug
	watchLeftovers(t)
	c, err := ppwasm.NewClient(opts)
	noteErr(err)
	if err != nil {
		t.Fatalf("WASI NewClient(%s): %v (is build/wasm/pulsar_producer.wasm built? make wasm)", opts.ServiceURL, err)
	}
	t.Cleanup(func() {
		noteStats(c.Stats())
		noteErr(c.Close())
	})
	return c, sink
}

func TestWasiTLSWithTokenFile(t *testing.T) {
	opts := tlsOpts("")
	opts.AuthTokenFile = writeFile(t, "token", token("pp-client", 0))
	c, sink := mustWasiClient(t, opts)
	publishAndCheck(t, c, "wasi-tls", 500)
	if n := sink.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d warnings or errors logged:%s", n, sink.dump())
	}
}

func TestWasiThroughProxy(t *testing.T) {
	opts := proxyOpts(env.ProxyURL)
	opts.AuthToken = token("pp-client", 0)
	c, sink := mustWasiClient(t, opts)
	topic := env.NewTopic(t, "wasi-proxy")
	env.CreatePartitionedTopic(t, topic, 2)
	p := mustProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 50})
	checkReadBack(t, topic, publish(t, p, "wasi-proxy", 400, 10))
	if n := sink.count(slog.LevelInfo, "through the proxy"); n < 1 {
		t.Errorf("no connection was logged as going through the proxy:%s", sink.dump())
	}
}

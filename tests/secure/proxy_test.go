// Publishing through the Pulsar proxy: TLS with a client certificate
// (the proxy requires one) and a token between client and proxy, TLS
// between proxy and broker. Lookups answer "go through the service URL",
// so every connection goes to the proxy, naming the broker in CONNECT
// (proxy_to_broker_url).
package secure

import (
	"log/slog"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/core"
)

func proxyOpts(url string) core.ClientOptions {
	return core.ClientOptions{
		ServiceURL:             url,
		TLSTrustCertsFilePath:  env.CA,
		TLSCertificateFilePath: env.ClientCert,
		TLSKeyFilePath:         env.ClientKey,
	}
}

// A partitioned topic through the proxy: the partition metadata and every
// partition's lookup go through it, and so does the data, which a relay in
// front of the proxy counts (a client that dialled the broker directly
// would send only its lookups through it). An unload midway makes every
// partition look up and register again, through the proxy.
func TestProxyPartitionedTopic(t *testing.T) {
	front := startRelay(t, "127.0.0.1:"+portOf(t, env.ProxyURL), "", "")
	opts := proxyOpts("pulsar+ssl://" + front.addr())
	opts.AuthToken = token("pp-client", 0)
	c, sink := mustClient(t, opts)
	topic := env.NewTopic(t, "proxy-partitioned")
	env.CreatePartitionedTopic(t, topic, 3)
	p := mustProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 100})
	if p.NumPartitions() != 3 {
		t.Fatalf("the producer sees %d partitions, want 3", p.NumPartitions())
	}
	first := publish(t, p, "proxy-a", 1500, 30)
	env.UnloadTopic(t, topic)
	second := publish(t, p, "proxy-b", 1500, 30)
	all := append(first, second...)
	checkReadBack(t, topic, all)
	parts := map[int32]int{}
	for _, s := range all {
		parts[s.id.Partition]++
	}
	if len(parts) != 3 {
		t.Errorf("messages went to partitions %v, want all 3", parts)
	}
	if up := front.up.Load(); up < int64(len(all)*100) {
		t.Errorf("only %d bytes went through the proxy for %d bytes of payload: the client bypassed it", up, len(all)*100)
	}
	if n := sink.count(slog.LevelInfo, "through the proxy"); n < 1 {
		t.Errorf("no connection was logged as going through the proxy:%s", sink.dump())
	}
	if st := p.Stats(); st.Reconnects < 3 {
		t.Errorf("%d reconnects after unloading 3 partitions, want at least 3", st.Reconnects)
	}
}

// OAuth2 through the proxy, with the deployment's own issuer (the one the
// suites of other languages use).
func TestProxyWithOAuth2(t *testing.T) {
	opts := proxyOpts(env.ProxyURL)
	opts.AuthOAuth2 = map[string]string{"issuerUrl": env.OAuth2Issuer, "privateKey": env.OAuth2Credentials}
	c, _ := mustClient(t, opts)
	publishAndCheck(t, c, "proxy-oauth2", 1000)
}

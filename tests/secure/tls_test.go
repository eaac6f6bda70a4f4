// Publishing over TLS to the broker with each way of authenticating: a
// literal token, a token file, a Go token supplier, and OAuth2 client
// credentials (with the token cached across connections); and the same
// broker's plaintext port, where the token is still required.
package secure

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/oauth2issuer"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

// publishAndCheck creates a producer on a fresh topic, publishes n batched
// messages, reads them back, and checks the producer's stats.
func publishAndCheck(t *testing.T, c *core.Client, prefix string, n int) *core.Producer {
	t.Helper()
	topic := env.NewTopic(t, prefix)
	p := mustProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 100})
	msgs := publish(t, p, prefix, n, 0)
	checkReadBack(t, topic, msgs)
	st := p.Stats()
	noteStats(st)
	if st.MsgsAcked != int64(n) || st.MsgsFailed != 0 || st.Reconnects != 0 {
		t.Errorf("producer stats: %d acked, %d failed, %d reconnects; want %d, 0, 0", st.MsgsAcked, st.MsgsFailed, st.Reconnects, n)
	}
	return p
}

// A literal token over TLS, the service URL naming localhost (checked
// against the certificate's DNS name) while lookups answer 127.0.0.1
// (its IP address).
func TestTLSWithToken(t *testing.T) {
	c, sink := mustClient(t, tlsOpts(token("pp-client", 0)))
	publishAndCheck(t, c, "tls-token", 1000)
	if n := sink.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d warnings or errors logged:%s", n, sink.dump())
	}
}

// A token file, read for each connection.
func TestTLSWithTokenFile(t *testing.T) {
	path := writeFile(t, "token", token("pp-client", 0)+"\n")
	opts := tlsOpts("")
	opts.AuthTokenFile = path
	c, _ := mustClient(t, opts)
	publishAndCheck(t, c, "tls-token-file", 1000)
}

// A Go supplier, called for each connection.
func TestTLSWithTokenSupplier(t *testing.T) {
	var calls atomic.Int64
	opts := tlsOpts("")
	opts.TokenSupplier = func() (string, error) {
		calls.Add(1)
		return token("pp-client", time.Hour), nil
	}
	c, _ := mustClient(t, opts)
	publishAndCheck(t, c, "tls-supplier", 500)
	if calls.Load() < 1 {
		t.Errorf("the token supplier was never called")
	}
}

// The broker's plaintext port asks for the token too.
func TestPlaintextPortWithToken(t *testing.T) {
	c, _ := mustClient(t, core.ClientOptions{ServiceURL: env.PlainURL, AuthToken: token("pp-client", 0)})
	publishAndCheck(t, c, "plain-token", 500)
}

// startIssuer starts an OAuth2 issuer for one client of role pp-client
// and returns it with a privateKey file for that client.
func startIssuer(t *testing.T, ttl time.Duration) (*oauth2issuer.Issuer, string, string) {
	t.Helper()
	id, secret := "client-"+pki.RandomHex(4), "secret-"+pki.RandomHex(16)
	addSecret("OAuth2 client secret", secret)
	is, err := oauth2issuer.Start(oauth2issuer.Config{
		CertFile: certs.Server, KeyFile: certs.ServerKey, Host: "localhost",
		SecretKey: secretKey, TTL: ttl, Audience: "urn:pp-test",
		Clients: map[string]oauth2issuer.Client{id: {Secret: secret, Role: "pp-client"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	corpus.mu.Lock()
	corpus.issuers = append(corpus.issuers, is)
	corpus.mu.Unlock()
	t.Cleanup(is.Close)
	creds, _ := json.Marshal(map[string]string{"client_id": id, "client_secret": secret})
	return is, writeFile(t, "credentials.json", string(creds)), string(creds)
}

func oauthOpts(is *oauth2issuer.Issuer, keyRef string) core.ClientOptions {
	opts := tlsOpts("")
	opts.AuthOAuth2 = map[string]string{"issuerUrl": is.URL, "privateKey": keyRef, "audience": "urn:pp-test", "scope": "pulsar"}
	return opts
}

// OAuth2 client credentials: the token comes from the issuer (discovered
// through its OpenID configuration, over TLS trusted through
// tlsTrustCertsFilePath) and is cached: three connections (the lookup on
// localhost, the producer's on 127.0.0.1, and the one after an unload)
// cost one discovery and one token. A closed client keeps no connection to
// the issuer.
func TestOAuth2(t *testing.T) {
	is, keyFile, _ := startIssuer(t, time.Hour)
	func() {
		c, sink := mustClient(t, oauthOpts(is, keyFile))
		topic := env.NewTopic(t, "oauth2")
		p := mustProducer(t, c, core.ProducerOptions{Topic: topic, BatchingMaxMessages: 100})
		first := publish(t, p, "oauth2-a", 500, 0)
		env.UnloadTopic(t, topic)
		second := publish(t, p, "oauth2-b", 500, 0)
		checkReadBack(t, topic, append(first, second...))
		st, cs := p.Stats(), c.Stats()
		noteStats(st)
		// The unload re-registers the producer on its connection; the two
		// connections are the lookup's (localhost) and the producer's
		// (127.0.0.1, as the broker advertises itself).
		if st.Reconnects < 1 || cs.Connects < 2 {
			t.Errorf("after an unload: %d reconnects, %d connections made; want at least 1 and 2", st.Reconnects, cs.Connects)
		}
		if d, r, n := is.Counts(); d != 1 || r != 1 || n != 1 {
			t.Errorf("issuer saw %d discoveries, %d token requests, %d tokens issued; want 1 of each (the token is cached)%s", d, r, n, sink.dump())
		}
		_ = c.Close()
	}()
	// The issuer's side of a connection the client closed goes within
	// milliseconds; allow 3 s.
	deadline := time.Now().Add(3 * time.Second)
	for is.OpenConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := is.OpenConns(); n != 0 {
		t.Errorf("%d connections to the OAuth2 issuer are still open 3 s after the client closed (an idle keep-alive connection of the client's HTTP transport, with its goroutines)", n)
	}
}

// The privateKey option also takes a file:// URL and a data: URL (plain
// and base64).
func TestOAuth2PrivateKeyForms(t *testing.T) {
	is, keyFile, creds := startIssuer(t, time.Hour)
	forms := map[string]string{
		"file URL":    "file://" + keyFile,
		"data URL":    "data:application/json," + url.PathEscape(creds),
		"base64 data": "data:application/json;base64," + base64.StdEncoding.EncodeToString([]byte(creds)),
	}
	for name, ref := range forms {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			c, _ := mustClient(t, oauthOpts(is, ref))
			publishAndCheck(t, c, "oauth2-form", 10)
		})
	}
}

// Bad input against the real components: each case must fail with a clear
// error (the right code, and a message that says what is wrong and where),
// within a bound (no hang), leaving no library goroutine behind (checked
// when the test's clients have closed, see watchLeftovers).
package secure

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/oauth2issuer"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

// Short timeouts, so a failure that is retried instead of reported shows
// as a timeout within the bound rather than as a hang.
const (
	badConnectTimeout = 3 * time.Second
	badOpTimeout      = 5 * time.Second
	// noHang bounds a failing CreateProducer: one connection timeout and
	// one operation timeout, plus scheduling slack.
	noHang = badConnectTimeout + badOpTimeout + 2*time.Second
)

func short(o core.ClientOptions) core.ClientOptions {
	o.ConnectionTimeout, o.OperationTimeout = badConnectTimeout, badOpTimeout
	return o
}

// expectCreateFails creates a client with opts and a producer on it,
// expecting the producer to fail within noHang with code, and its message
// to contain every one of wants. It returns the error.
func expectCreateFails(t *testing.T, opts core.ClientOptions, code core.Code, wants ...string) error {
	t.Helper()
	c, _, err := newClient(t, short(opts))
	if err != nil {
		t.Fatalf("NewClient failed (%v); the options are valid, the failure should come when connecting", err)
	}
	var p *core.Producer
	err = within(t, noHang, "CreateProducer", func() error {
		var err error
		p, err = createProducer(c, core.ProducerOptions{Topic: env.NewTopic(t, "bad")})
		return err
	})
	if err == nil {
		_ = p.Close(context.Background())
		t.Fatalf("CreateProducer succeeded; want %v", code)
	}
	checkErr(t, err, code, wants...)
	return err
}

// checkErr checks an error's code and that its message has every one of
// wants.
func checkErr(t *testing.T, err error, code core.Code, wants ...string) {
	t.Helper()
	if got := core.CodeOf(err); got != code {
		t.Errorf("error code %v, want %v: %v", got, code, err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// A CA that did not sign the broker's certificate.
func TestBadWrongCA(t *testing.T) {
	opts := tlsOpts(token("pp-client", 0))
	opts.TLSTrustCertsFilePath = certs.OtherCA
	expectCreateFails(t, opts, core.CodeConnectError, "localhost:"+portOf(t, env.URL), "authority", "tlsTrustCertsFilePath")
}

// A certificate (signed by the trusted CA) for another name: refused with
// hostname verification, naming both names; accepted without it (the
// chain is still checked); and accepted with tlsAllowInsecureConnection,
// which is logged once as a warning however many connections the client
// makes. The relay presenting the certificate forwards to the broker's
// plaintext port, so the accepted clients really publish.
func TestBadWrongHostName(t *testing.T) {
	front := startRelay(t, "127.0.0.1:"+portOf(t, env.PlainURL), certs.WrongHost, certs.WrongHostKey)
	url := "pulsar+ssl://" + front.addr()
	opts := tlsOpts(token("pp-client", 0))
	opts.ServiceURL = url
	t.Run("verified", func(t *testing.T) {
		expectCreateFails(t, opts, core.CodeConnectError, pki.WrongHostName, "127.0.0.1", "tlsValidateHostname")
	})
	t.Run("tlsValidateHostname_false", func(t *testing.T) {
		o := opts
		o.TLSValidateHostname = core.Bool(false)
		c, _ := mustClient(t, o)
		publishAndCheck(t, c, "no-hostname-check", 100)
	})
	t.Run("tlsAllowInsecureConnection", func(t *testing.T) {
		o := opts
		o.TLSTrustCertsFilePath = certs.OtherCA // nothing is verified anyway
		o.TLSAllowInsecureConnection = true
		c, sink := mustClient(t, o)
		publishAndCheck(t, c, "insecure", 100)
		if cs := c.Stats(); cs.Connects < 2 {
			t.Errorf("%d connections; the test wants at least 2 (relay and broker)", cs.Connects)
		}
		if n := sink.count(slog.LevelWarn, "tlsAllowInsecureConnection"); n != 1 {
			t.Errorf("tlsAllowInsecureConnection logged %d times as a warning, want once:%s", n, sink.dump())
		}
	})
}

// An expired certificate of the trusted CA, for the right name.
func TestBadExpiredCertificate(t *testing.T) {
	front := startRelay(t, "127.0.0.1:"+portOf(t, env.PlainURL), certs.Expired, certs.ExpiredKey)
	opts := tlsOpts(token("pp-client", 0))
	opts.ServiceURL = "pulsar+ssl://" + front.addr()
	expectCreateFails(t, opts, core.CodeConnectError, front.addr(), "expired")
}

// Plaintext to the TLS port, and TLS to the plaintext port: each error
// says which.
func TestBadPlaintextVersusTLS(t *testing.T) {
	t.Run("plaintext_client_tls_port", func(t *testing.T) {
		opts := core.ClientOptions{ServiceURL: "pulsar://127.0.0.1:" + portOf(t, env.URL), AuthToken: token("pp-client", 0)}
		expectCreateFails(t, opts, core.CodeConnectError, "127.0.0.1:"+portOf(t, env.URL), "TLS", "pulsar+ssl://")
	})
	t.Run("tls_client_plaintext_port", func(t *testing.T) {
		opts := tlsOpts(token("pp-client", 0))
		opts.ServiceURL = "pulsar+ssl://127.0.0.1:" + portOf(t, env.PlainURL)
		expectCreateFails(t, opts, core.CodeConnectError, "127.0.0.1:"+portOf(t, env.PlainURL), "plaintext", "pulsar://")
	})
}

// Files that cannot be used fail NewClient at once, naming the option and
// the file.
func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := writeFile(t, "not.pem", "this is not PEM\n")
	aDir := filepath.Join(dir, "a-directory.pem") // unreadable as a file (even by root)
	if err := os.Mkdir(aDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name           string
		ca, cert, key  string
		option, detail string
	}{
		{"missing CA", missing, "", "", "tlsTrustCertsFilePath", missing},
		{"CA is a directory", aDir, "", "", "tlsTrustCertsFilePath", aDir},
		{"CA not PEM", notPEM, "", "", "tlsTrustCertsFilePath", notPEM},
		{"missing certificate", env.CA, missing, env.ClientKey, "tlsCertificateFilePath", missing},
		{"certificate is a directory", env.CA, aDir, env.ClientKey, "tlsCertificateFilePath", aDir},
		// The key's errors name the certificate's option and the key's file.
		{"missing key", env.CA, env.ClientCert, missing, "key", missing},
		{"key is a directory", env.CA, env.ClientCert, aDir, "key", aDir},
		{"key not PEM", env.CA, env.ClientCert, notPEM, "key", notPEM},
		{"key of another certificate", env.CA, env.ClientCert, certs.ServerKey, "tlsCertificateFilePath", "does not match"},
		{"certificate without key", env.CA, env.ClientCert, "", "tlsCertificateFilePath", "tlsKeyFilePath"},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			opts := tlsOpts(token("pp-client", 0))
			opts.TLSTrustCertsFilePath, opts.TLSCertificateFilePath, opts.TLSKeyFilePath = tc.ca, tc.cert, tc.key
			err := within(t, time.Second, "NewClient", func() error {
				_, _, err := newClient(t, opts)
				return err
			})
			if err == nil {
				t.Fatal("NewClient succeeded")
			}
			checkErr(t, err, core.CodeInvalidConfiguration, tc.option, tc.detail)
		})
	}
}

// The proxy requires a client certificate: without one the connection is
// refused, at once, and the error says a certificate was required. (In
// TLS 1.3 the server refuses after the client's side of the handshake has
// completed, so the refusal arrives as the first read: the library reports
// it as Disconnected rather than ConnectError; either is accepted.)
func TestBadProxyWithoutClientCertificate(t *testing.T) {
	opts := core.ClientOptions{ServiceURL: env.ProxyURL, TLSTrustCertsFilePath: env.CA, AuthToken: token("pp-client", 0)}
	c, _, err := newClient(t, short(opts))
	if err != nil {
		t.Fatal(err)
	}
	err = within(t, noHang, "CreateProducer", func() error {
		_, err := createProducer(c, core.ProducerOptions{Topic: env.NewTopic(t, "bad")})
		return err
	})
	if err == nil {
		t.Fatal("CreateProducer succeeded without a client certificate")
	}
	if code := core.CodeOf(err); code != core.CodeConnectError && code != core.CodeDisconnected {
		t.Errorf("error code %v, want ConnectError or Disconnected: %v", code, err)
	}
	for _, w := range []string{"localhost:" + portOf(t, env.ProxyURL), "certificate required"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// Tokens the broker refuses: AuthenticationError at once (not retried
// until a timeout), naming the method.
func TestBadTokens(t *testing.T) {
	otherKey := []byte(pki.RandomHex(32))
	forged := pki.MintHS256(otherKey, "pp-client", time.Time{}, nil)
	addSecret("forged token", forged)
	cases := []struct {
		name, token, method string
	}{
		{"signed with another key", forged, `"token"`},
		{"not a JWT", "not-a-jwt-" + pki.RandomHex(8), `"token"`},
		{"expired", token("pp-client", -time.Minute), `"token"`},
		{"none", "", `"none"`},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			addSecret("bad token", tc.token)
			expectCreateFails(t, tlsOpts(tc.token), core.CodeAuthenticationError, "authentication method "+tc.method)
		})
	}
}

// A valid token of a role with no permission on the namespace:
// AuthorizationError, not retried.
func TestBadRoleNotAuthorized(t *testing.T) {
	expectCreateFails(t, tlsOpts(token("pp-nobody", 0)), core.CodeAuthorizationError)
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// OAuth2 failures at create time: each is an AuthenticationError naming
// the issuer's URL and what went wrong, never the secret.
func TestBadOAuth2(t *testing.T) {
	t.Run("issuer_unreachable", func(t *testing.T) {
		_, keyFile, _ := startIssuer(t, time.Hour)
		addr := closedPort(t)
		opts := tlsOpts("")
		opts.AuthOAuth2 = map[string]string{"issuerUrl": "https://" + addr, "privateKey": keyFile}
		expectCreateFails(t, opts, core.CodeAuthenticationError, "unreachable", addr)
	})
	t.Run("wrong_client_secret", func(t *testing.T) {
		is, _, _ := startIssuer(t, time.Hour)
		wrong := `{"client_id":"whoever","client_secret":"wrong-` + pki.RandomHex(8) + `"}`
		addSecret("wrong client secret", wrong)
		opts := oauthOpts(is, writeFile(t, "wrong.json", wrong))
		expectCreateFails(t, opts, core.CodeAuthenticationError, "401", "invalid_client")
	})
	for _, tc := range []struct {
		mode oauth2issuer.Mode
		name string
		want string
	}{
		{oauth2issuer.HTTP500, "http_500", "500"},
		{oauth2issuer.Garbage, "garbage", "not JSON"},
		{oauth2issuer.NoToken, "no_access_token", "access_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, keyFile, _ := startIssuer(t, time.Hour)
			is.SetMode(tc.mode)
			expectCreateFails(t, oauthOpts(is, keyFile), core.CodeAuthenticationError, is.URL, tc.want)
		})
	}
	t.Run("issuer_never_answers", func(t *testing.T) {
		is, keyFile, _ := startIssuer(t, time.Hour)
		is.SetMode(oauth2issuer.SlowAnswer)
		err := expectCreateFails(t, oauthOpts(is, keyFile), core.CodeAuthenticationError, is.URL)
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") && !strings.Contains(err.Error(), "timeout") {
			t.Errorf("error %q does not say the issuer timed out", err)
		}
	})
}

// A refresh that fails while the cached token is still valid: the client
// keeps using the cached token (the connection succeeds) and logs that the
// refresh failed. The token lives 33 s and is refreshed when less than 30 s
// are left, so 4 s after the first fetch a new connection asks again.
func TestOAuth2RefreshFailsWhileCachedTokenValid(t *testing.T) {
	is, keyFile, _ := startIssuer(t, 33*time.Second)
	front := startRelay(t, "127.0.0.1:"+portOf(t, env.URL), "", "")
	opts := oauthOpts(is, keyFile)
	opts.ServiceURL = "pulsar+ssl://" + front.addr()
	c, sink := mustClient(t, opts)
	p := mustProducer(t, c, core.ProducerOptions{Topic: env.NewTopic(t, "oauth2-cached")})
	publish(t, p, "before", 10, 0)
	is.SetMode(oauth2issuer.HTTP500)
	time.Sleep(4 * time.Second)
	// Drop the lookup connection (through the relay); a second producer,
	// on a new topic, needs a lookup, so the client dials the service URL
	// again and asks for credentials.
	front.dropConns()
	broker.WaitFor(t, 10*time.Second, "the client to see both connections through the relay close", func() bool {
		return sink.count(slog.LevelWarn, "connection to "+front.addr()+" closed") >= 2
	})
	p2, err := createProducer(c, core.ProducerOptions{Topic: env.NewTopic(t, "oauth2-cached2")})
	if err != nil {
		t.Fatalf("with the cached token still valid, CreateProducer failed: %v", err)
	}
	publish(t, p2, "after", 10, 0)
	if n := front.accepted.Load(); n < 2 {
		t.Errorf("the relay accepted %d connections; the test needs the client to dial it again", n)
	}
	if _, reqs, issued := is.Counts(); reqs < 2 || issued != 1 {
		t.Errorf("issuer saw %d token requests and issued %d tokens; want a failed refresh after the first token", reqs, issued)
	}
	if n := sink.count(slog.LevelWarn, is.URL); n < 1 {
		t.Errorf("the failed refresh (HTTP 500 from %s) was not logged as a warning while the cached token was used:%s", is.URL, sink.dump())
	}
}

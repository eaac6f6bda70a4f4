// TLS and credentials against the fake broker: certificates are made here,
// at test time (a CA, a broker certificate for 127.0.0.1 and localhost, one
// for another name, an expired one, a client certificate for mutual TLS),
// and an OAuth2 issuer runs as an httptest TLS server. Every error and log
// line of these tests is checked for the secrets they use.
package core

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// pki is a CA and what it signed, as PEM files in a temporary directory.
type pki struct {
	dir    string
	caFile string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, caKey: key}
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a leaf certificate; it returns it for a TLS config and as
// PEM files.
func (p *pki) issue(t *testing.T, name string, hosts []string, notAfter time.Time, client bool) (tls.Certificate, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile := p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile := p.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// tlsBroker starts a fake broker serving TLS with cert.
func tlsBroker(t *testing.T, cert tls.Certificate, mutate func(*tls.Config)) *fakebroker.Server {
	t.Helper()
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if mutate != nil {
		mutate(conf)
	}
	return fakebroker.Start(t, fakebroker.Options{TLS: conf})
}

// text is every record the sink kept, one per line, with its attributes,
// for the secrets check.
func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []string
	for _, r := range s.records {
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool { line += " " + a.Key + "=" + a.Value.String(); return true })
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// publish creates a client and a producer and sends one message; it
// returns the first error.
func publish(t *testing.T, opts ClientOptions) error {
	t.Helper()
	c, err := NewClient(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, ProducerOptions{Topic: "secure"})
	if err != nil {
		return err
	}
	_, err = p.Send(ctx, &Message{Payload: []byte("x")})
	return err
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	good, _, _ := p.issue(t, "broker", []string{"127.0.0.1", "localhost"}, time.Now().Add(time.Hour), false)
	other, _, _ := p.issue(t, "other", []string{"other.example"}, time.Now().Add(time.Hour), false)
	expired, _, _ := p.issue(t, "expired", []string{"127.0.0.1"}, time.Now().Add(-time.Hour), false)
	_, clientCert, clientKey := p.issue(t, "client", nil, time.Now().Add(time.Hour), true)
	_, otherCert, _ := p.issue(t, "client2", nil, time.Now().Add(time.Hour), true)
	url := func(s *fakebroker.Server) string { return "pulsar+ssl://" + s.Addr() }

	b := tlsBroker(t, good, nil)
	if err := publish(t, ClientOptions{ServiceURL: url(b), TLSTrustCertsFilePath: p.caFile}); err != nil {
		t.Fatalf("TLS with the CA: %v", err)
	}
	expect := func(name string, err error, code Code, texts ...string) {
		t.Helper()
		if CodeOf(err) != code {
			t.Errorf("%s: %v, want %v", name, err, code)
			return
		}
		for _, s := range texts {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %q", name, err, s)
			}
		}
	}
	expect("a CA this client does not trust", publish(t, ClientOptions{ServiceURL: url(b)}), CodeConnectError, "tlsTrustCertsFilePath")

	wrong := tlsBroker(t, other, nil)
	expect("a certificate for another name", publish(t, ClientOptions{ServiceURL: url(wrong), TLSTrustCertsFilePath: p.caFile}),
		CodeConnectError, "other.example", "127.0.0.1", "tlsValidateHostname")
	if err := publish(t, ClientOptions{ServiceURL: url(wrong), TLSTrustCertsFilePath: p.caFile, TLSValidateHostname: Bool(false)}); err != nil {
		t.Errorf("another name with tlsValidateHostname false: %v", err)
	}
	sink := &logSink{}
	if err := publish(t, ClientOptions{ServiceURL: url(wrong), TLSAllowInsecureConnection: true, Logger: slog.New(sink)}); err != nil {
		t.Errorf("another name, untrusted, with tlsAllowInsecureConnection: %v", err)
	}
	if n := strings.Count(sink.text(), "tlsAllowInsecureConnection"); n != 1 {
		t.Errorf("tlsAllowInsecureConnection warned %d times:\n%s", n, sink.text())
	}

	old := tlsBroker(t, expired, nil)
	expect("an expired certificate", publish(t, ClientOptions{ServiceURL: url(old), TLSTrustCertsFilePath: p.caFile}), CodeConnectError, "expired")

	plain := fakebroker.Start(t, fakebroker.Options{})
	expect("TLS against a plaintext port", publish(t, ClientOptions{ServiceURL: "pulsar+ssl://" + plain.Addr(), TLSTrustCertsFilePath: p.caFile}),
		CodeConnectError, "plaintext", "pulsar://")
	expect("plaintext against a TLS port", publish(t, ClientOptions{ServiceURL: "pulsar://" + b.Addr()}), CodeConnectError, "pulsar+ssl://")

	for _, tc := range []struct {
		name string
		o    ClientOptions
		text string
	}{
		{"a missing CA file", ClientOptions{TLSTrustCertsFilePath: filepath.Join(p.dir, "none.pem")}, "tlsTrustCertsFilePath"},
		{"a CA file without certificates", ClientOptions{TLSTrustCertsFilePath: os.DevNull}, "holds no PEM certificate"},
		{"a missing certificate file", ClientOptions{TLSTrustCertsFilePath: p.caFile, TLSCertificateFilePath: "/nonexistent.pem", TLSKeyFilePath: clientKey}, "tlsCertificateFilePath"},
		{"a key that does not match its certificate", ClientOptions{TLSTrustCertsFilePath: p.caFile, TLSCertificateFilePath: otherCert, TLSKeyFilePath: clientKey}, "does not match"},
	} {
		tc.o.ServiceURL = url(b)
		_, err := NewClient(tc.o)
		expect(tc.name, err, CodeInvalidConfiguration, tc.text)
	}

	// Mutual TLS: the broker requires a certificate signed by the CA.
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	mtls := tlsBroker(t, good, func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert; c.ClientCAs = pool })
	if err := publish(t, ClientOptions{ServiceURL: url(mtls), TLSTrustCertsFilePath: p.caFile, TLSCertificateFilePath: clientCert, TLSKeyFilePath: clientKey}); err != nil {
		t.Errorf("mutual TLS: %v", err)
	}
	if err := publish(t, ClientOptions{ServiceURL: url(mtls), TLSTrustCertsFilePath: p.caFile, ConnectionTimeout: 2 * time.Second}); err == nil {
		t.Error("mutual TLS without a client certificate was accepted")
	}
}

// authsSeen lists the tokens the broker saw, in order.
func authsSeen(b *fakebroker.Server) []string {
	var out []string
	for _, a := range b.Auths() {
		out = append(out, a.Method+":"+string(a.Data))
	}
	return out
}

func TestTokensAndChallenges(t *testing.T) {
	sink := &logSink{}
	var errs []string
	b := fakebroker.Start(t, fakebroker.Options{})
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("file-token-1\n"), 0o600)
	c, err := NewClient(ClientOptions{ServiceURL: b.URL(), AuthTokenFile: file, Logger: slog.New(sink), LogLevel: LogDebug})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	p, err := c.CreateProducer(ctx, ProducerOptions{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	// The file changes; the broker challenges: the new token goes back on
	// the same connection, and a message in flight completes.
	os.WriteFile(file, []byte("file-token-2"), 0o600)
	if n := b.Challenge(); n != 1 {
		t.Fatalf("challenged %d connections", n)
	}
	if _, err := p.Send(ctx, &Message{Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "it", func() bool { return len(b.Auths()) == 2 })
	if got := authsSeen(b); got[0] != "token:file-token-1" || got[1] != "token:file-token-2" {
		t.Fatalf("the broker saw %v", got)
	}
	if st := b.Stats(); st.Connections != 1 {
		t.Fatalf("%d connections: the challenge dropped one", st.Connections)
	}
	// The file is deleted before the next challenge: the connection ends,
	// with an error naming the file but no token, and the producer
	// reconnects once the file is back.
	os.Remove(file)
	b.Challenge()
	waitFor(t, 10*time.Second, "it", func() bool { return strings.Contains(sink.text(), "no fresh credentials") })
	os.WriteFile(file, []byte("file-token-3"), 0o600)
	if _, err := p.Send(ctx, &Message{Payload: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if got := authsSeen(b); got[len(got)-1] != "token:file-token-3" {
		t.Fatalf("after the file came back the broker saw %v", got)
	}
	errs = append(errs, sink.text())

	// A Go supplier, called for each connection.
	var calls atomic.Int32
	b2 := fakebroker.Start(t, fakebroker.Options{})
	err = publish(t, ClientOptions{ServiceURL: b2.URL(), TokenSupplier: func() (string, error) {
		calls.Add(1)
		return "supplied-token", nil
	}})
	if err != nil || calls.Load() != 1 || authsSeen(b2)[0] != "token:supplied-token" {
		t.Fatalf("supplier: %v, %d calls, %v", err, calls.Load(), authsSeen(b2))
	}
	err = publish(t, ClientOptions{ServiceURL: b2.URL(), TokenSupplier: func() (string, error) { return "", fmt.Errorf("vault unreachable") }})
	if CodeOf(err) != CodeAuthenticationError || !strings.Contains(err.Error(), "vault unreachable") {
		t.Fatalf("a failing supplier: %v", err)
	}
	errs = append(errs, err.Error())
	// A literal token.
	b3 := fakebroker.Start(t, fakebroker.Options{})
	if err := publish(t, ClientOptions{ServiceURL: b3.URL(), AuthToken: "literal-token"}); err != nil || authsSeen(b3)[0] != "token:literal-token" {
		t.Fatalf("literal token: %v %v", err, authsSeen(b3))
	}
	for _, secret := range []string{"file-token", "supplied-token", "literal-token"} {
		for _, text := range errs {
			if strings.Contains(text, secret) {
				t.Errorf("the secret %q appears in:\n%s", secret, text)
			}
		}
	}
}

// issuer is a test OAuth2 issuer: OpenID discovery and a client-credentials
// token endpoint, counting its calls.
type issuer struct {
	*httptest.Server
	calls     atomic.Int32
	expiresIn int
	status    int // answer this HTTP status instead of a token
	garbage   bool
}

func newIssuer(t *testing.T, secret string) *issuer {
	is := &issuer{expiresIn: 3600}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "token_endpoint": is.URL + "/token"})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		n := is.calls.Add(1)
		switch {
		case is.status != 0:
			w.WriteHeader(is.status)
			return
		case is.garbage:
			w.Write([]byte("<html>oops</html>"))
			return
		case r.PostFormValue("grant_type") != "client_credentials" || r.PostFormValue("client_id") != "app" ||
			r.PostFormValue("client_secret") != secret || r.PostFormValue("audience") != "pulsar":
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("oauth-token-%d", n), "token_type": "Bearer", "expires_in": is.expiresIn})
	})
	is.Server = httptest.NewTLSServer(mux)
	t.Cleanup(is.Close)
	return is
}

// caFile writes the issuer's certificate as a PEM trust file.
func (is *issuer) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "issuer-ca.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.Certificate().Raw}), 0o600)
	return path
}

func TestOAuth2(t *testing.T) {
	const secret = "client-secret-value"
	is := newIssuer(t, secret)
	creds := filepath.Join(t.TempDir(), "creds.json")
	os.WriteFile(creds, []byte(`{"type":"client_credentials","client_id":"app","client_secret":"`+secret+`"}`), 0o600)
	b := fakebroker.Start(t, fakebroker.Options{})
	opts := func(key string) ClientOptions {
		return ClientOptions{ServiceURL: b.URL(), TLSTrustCertsFilePath: is.caFile(t),
			AuthOAuth2: map[string]string{"issuerUrl": is.URL, "privateKey": key, "audience": "pulsar"}}
	}
	c, err := NewClient(opts(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := c.CreateProducer(ctx, ProducerOptions{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	// A challenge within the token's life is answered from the cache.
	b.Challenge()
	p.Send(ctx, &Message{Payload: []byte("x")})
	waitFor(t, 10*time.Second, "it", func() bool { return len(b.Auths()) == 2 })
	if got := authsSeen(b); is.calls.Load() != 1 || got[0] != "token:oauth-token-1" || got[1] != "token:oauth-token-1" {
		t.Fatalf("%d issuer calls; the broker saw %v", is.calls.Load(), got)
	}
	c.Close()

	// A token about to expire is fetched again at the next challenge.
	is.expiresIn = 10 // within the refresh margin: always fetched again
	c2, _ := NewClient(opts("file://" + creds))
	p2, err := c2.CreateProducer(ctx, ProducerOptions{Topic: "t2"})
	if err != nil {
		t.Fatal(err)
	}
	before := is.calls.Load()
	b.Challenge()
	p2.Send(ctx, &Message{Payload: []byte("y")})
	waitFor(t, 10*time.Second, "it", func() bool { return is.calls.Load() > before })
	c2.Close()

	// The credentials as a data: URL.
	data := "data:application/json," + strings.ReplaceAll(`{"client_id":"app","client_secret":"`+secret+`"}`, `"`, "%22")
	if err := publish(t, opts(data)); err != nil {
		t.Fatalf("data: URL credentials: %v", err)
	}

	var errs []string
	expect := func(name string, err error, text string) {
		t.Helper()
		if CodeOf(err) != CodeAuthenticationError || !strings.Contains(err.Error(), text) {
			t.Errorf("%s: %v, want AuthenticationError saying %q", name, err, text)
		}
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"client_id":"app","client_secret":"wrong-secret-value"}`), 0o600)
	expect("a wrong client secret", publish(t, opts(bad)), "invalid_client")
	is.status = http.StatusInternalServerError
	expect("the issuer fails", publish(t, opts(creds)), "500")
	is.status, is.garbage = 0, true
	expect("the issuer answers garbage", publish(t, opts(creds)), "not JSON")
	is.garbage = false
	o := opts(creds)
	o.AuthOAuth2["issuerUrl"] = "https://127.0.0.1:1"
	o.ConnectionTimeout = 3 * time.Second
	expect("the issuer is unreachable", publish(t, o), "unreachable")
	expect("no credentials file", publish(t, opts(filepath.Join(t.TempDir(), "none.json"))), "privateKey")
	for _, text := range errs {
		if strings.Contains(text, secret) || strings.Contains(text, "wrong-secret-value") {
			t.Errorf("a secret appears in: %s", text)
		}
	}
}

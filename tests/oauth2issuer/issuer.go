// Package oauth2issuer is a small OAuth2 authorization server for the
// secured test deployment: HTTPS, OpenID discovery, and the
// client-credentials grant, issuing JWTs the Pulsar broker accepts as
// tokens.
//
// How this works: Start listens on 127.0.0.1 with a certificate of the test
// CA (package pki). GET /.well-known/openid-configuration names the token
// endpoint; POST /oauth/token checks grant_type=client_credentials and the
// client's id and secret (form fields or HTTP Basic), and answers
// {"access_token", "token_type": "Bearer", "expires_in"} with a JWT signed
// (HS256) with the broker's own token secret key and the client's role as
// "sub", so the broker validates it like any token it issued itself. The
// lifetime of tokens, and a failure mode (HTTP 500, a non-JSON answer, an
// answer without a token), can be changed while it runs. It counts
// discovery and token calls (proving a client caches and refreshes), keeps
// every token it issued (so a test can look for them in logs), and tracks
// the connections open to it (so a test can see that a closed client keeps
// none).
package oauth2issuer

import (
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

// Client is a registered OAuth2 client.
type Client struct {
	Secret string
	Role   string // the "sub" of its tokens: the Pulsar role
}

// Config configures an issuer.
type Config struct {
	// Addr to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// CertFile and KeyFile are the server certificate (PEM).
	CertFile, KeyFile string
	// Host is the host name in the URLs the issuer publishes (its
	// certificate must be for it); default: the listening IP.
	Host string
	// SecretKey signs tokens (the broker's tokenSecretKey, raw bytes).
	SecretKey []byte
	// Clients by client_id.
	Clients map[string]Client
	// TTL is the lifetime of issued tokens; default one hour.
	TTL time.Duration
	// Audience, when set, must be the audience a client asks for.
	Audience string
}

// Mode makes the issuer misbehave on purpose.
type Mode int32

const (
	Normal     Mode = iota
	HTTP500         // every request answers 500 Internal Server Error
	Garbage         // every request answers 200 with a body that is not JSON
	NoToken         // the token endpoint answers 200 JSON without access_token
	SlowAnswer      // every request waits 30 s (or until the client gives up)
)

// Issuer is a running issuer.
type Issuer struct {
	// URL is the issuer URL, https://host:port, without a trailing slash.
	URL string

	cfg   Config
	srv   *http.Server
	ln    net.Listener
	mode  atomic.Int32
	ttlNs atomic.Int64

	discoveryCalls atomic.Int64
	tokenCalls     atomic.Int64 // every POST to the token endpoint
	tokensIssued   atomic.Int64 // the ones that got a token

	mu     sync.Mutex
	issued []string
	conns  map[net.Conn]http.ConnState
	done   chan struct{}
}

// Start starts an issuer.
func Start(cfg Config) (*Issuer, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if cfg.Host != "" {
		host = cfg.Host
	}
	is := &Issuer{
		URL:   "https://" + net.JoinHostPort(host, port),
		cfg:   cfg,
		ln:    ln,
		conns: make(map[net.Conn]http.ConnState),
		done:  make(chan struct{}),
	}
	ttl := cfg.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	is.ttlNs.Store(int64(ttl))
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("/oauth/token", is.token)
	is.srv = &http.Server{
		Handler:   mux,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ConnState: is.connState,
		// The issuer logs nothing (a client that gives up mid-handshake
		// is a test doing its job): a test reads what it counts.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		defer close(is.done)
		_ = is.srv.ServeTLS(ln, "", "")
	}()
	return is, nil
}

// Close stops the issuer and closes every connection to it.
func (is *Issuer) Close() {
	_ = is.srv.Close()
	<-is.done
}

// Addr is the host:port the issuer listens on.
func (is *Issuer) Addr() string { return is.ln.Addr().String() }

// SetMode changes how the issuer answers from now on.
func (is *Issuer) SetMode(m Mode) { is.mode.Store(int32(m)) }

// SetTTL changes the lifetime of the tokens issued from now on.
func (is *Issuer) SetTTL(d time.Duration) { is.ttlNs.Store(int64(d)) }

// Counts reports the discovery requests, the token requests, and the
// tokens issued so far.
func (is *Issuer) Counts() (discovery, tokenRequests, issued int64) {
	return is.discoveryCalls.Load(), is.tokenCalls.Load(), is.tokensIssued.Load()
}

// Issued returns every token issued so far.
func (is *Issuer) Issued() []string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return append([]string(nil), is.issued...)
}

// OpenConns is the number of client connections open to the issuer now,
// idle keep-alive ones included.
func (is *Issuer) OpenConns() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return len(is.conns)
}

func (is *Issuer) connState(c net.Conn, s http.ConnState) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if s == http.StateClosed || s == http.StateHijacked {
		delete(is.conns, c)
		return
	}
	is.conns[c] = s
}

// misbehave answers per the failure mode; false if the mode is Normal or
// NoToken (which only the token endpoint acts on).
func (is *Issuer) misbehave(w http.ResponseWriter, r *http.Request) bool {
	switch Mode(is.mode.Load()) {
	case HTTP500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return true
	case Garbage:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "<html>this is not JSON</html>")
		return true
	case SlowAnswer:
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		http.Error(w, "too slow", http.StatusGatewayTimeout)
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (is *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	is.discoveryCalls.Add(1)
	if is.misbehave(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                is.URL,
		"token_endpoint":                        is.URL + "/oauth/token",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
	})
}

// oauthError answers an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	is.tokenCalls.Add(1)
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	if is.misbehave(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "not a form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	c, known := is.cfg.Clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	if is.cfg.Audience != "" && r.PostForm.Get("audience") != is.cfg.Audience {
		oauthError(w, http.StatusBadRequest, "invalid_request", "wrong audience")
		return
	}
	if Mode(is.mode.Load()) == NoToken {
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 60})
		return
	}
	ttl := time.Duration(is.ttlNs.Load())
	tok := pki.MintHS256(is.cfg.SecretKey, c.Role, time.Now().Add(ttl), map[string]any{"iat": time.Now().Unix()})
	is.mu.Lock()
	is.issued = append(is.issued, tok)
	is.mu.Unlock()
	is.tokensIssued.Add(1)
	body := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int64(ttl / time.Second)}
	if s := strings.TrimSpace(r.PostForm.Get("scope")); s != "" {
		body["scope"] = s
	}
	writeJSON(w, http.StatusOK, body)
}

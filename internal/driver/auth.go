// Credentials: where the token a connection authenticates with comes from.
//
// The engine only carries credentials (CONNECT, AUTH_RESPONSE); the runtime
// gets them, outside any lock: before each connection's handshake, and
// when a broker challenges (its copy expired). A literal token is used as
// is; a token file is read again each time (so a rotated file is picked
// up); a supplier (Go function, or a C callback through SetTokenSupplier)
// is called each time; OAuth2 client credentials are exchanged at the
// issuer's token endpoint, found by OpenID discovery, and the token is
// cached until shortly before it expires. Credentials never appear in an
// error or a log record: errors name the source, not the secret.
package driver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

// credentials gives a connection its authentication method and data.
type credentials interface {
	method() string
	// get returns fresh data; it may do I/O and must honour ctx.
	get(ctx context.Context) ([]byte, error)
}

func authError(format string, args ...any) error {
	return engine.Errorf(engine.CodeAuthenticationError, format, args...)
}

// newCredentials picks the source of credentials the options name; nil
// when the client authenticates with none.
func newCredentials(o *engine.ClientOptions, tlsConf *tls.Config) (credentials, error) {
	switch {
	case o.AuthToken != "":
		return tokenSource{func(context.Context) (string, error) { return o.AuthToken, nil }}, nil
	case o.AuthTokenFile != "":
		path := o.AuthTokenFile
		return tokenSource{func(context.Context) (string, error) { return readTokenFile(path) }}, nil
	case o.TokenSupplier != nil:
		f := o.TokenSupplier
		return tokenSource{func(context.Context) (string, error) { return callSupplier(f) }}, nil
	case o.AuthOAuth2 != nil:
		return newOAuth2(o.AuthOAuth2, tlsConf)
	}
	return nil, nil
}

// tokenSource is the "token" method with the token from fn.
type tokenSource struct {
	fn func(context.Context) (string, error)
}

func (tokenSource) method() string { return "token" }

func (t tokenSource) get(ctx context.Context) ([]byte, error) {
	tok, err := t.fn(ctx)
	if err != nil {
		return nil, err
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return nil, authError("the token is empty")
	}
	return []byte(tok), nil
}

func readTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", authError("reading the token file (authTokenFile): %v", err)
	}
	return string(b), nil
}

// callSupplier calls a token supplier, turning a panic into an error.
func callSupplier(f func() (string, error)) (tok string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = authError("the token supplier panicked: %v", r)
		}
	}()
	tok, err = f()
	if err != nil {
		if _, ours := err.(*engine.Error); ours {
			return "", err // it says what failed already
		}
		return "", authError("the token supplier failed: %v", err)
	}
	return tok, nil
}

// oauth2 exchanges client credentials for tokens at an issuer.
type oauth2 struct {
	issuer, keyRef, audience, scope string
	http                            *http.Client

	warn     func(msg string) // logs a warning; set by the client
	mu       sync.Mutex       // guards every field below; held during a fetch, so one fetch serves every waiter
	endpoint string           // the token endpoint, once discovered
	token    string
	expires  time.Time
}

// oauth2Refresh is how long before its expiry a cached token is replaced.
const oauth2Refresh = 30 * time.Second

func newOAuth2(params map[string]string, tlsConf *tls.Config) (*oauth2, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsConf != nil {
		c := tlsConf.Clone()
		c.ServerName = "" // each request's own host
		tr.TLSClientConfig = c
	}
	return &oauth2{
		issuer:   strings.TrimSuffix(params["issuerUrl"], "/"),
		keyRef:   params["privateKey"],
		audience: params["audience"],
		scope:    params["scope"],
		http:     &http.Client{Transport: tr},
	}, nil
}

func (*oauth2) method() string { return "token" }

func (o *oauth2) get(ctx context.Context) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token != "" && time.Until(o.expires) > oauth2Refresh {
		return []byte(o.token), nil
	}
	tok, exp, err := o.fetch(ctx)
	if err != nil {
		if o.token != "" && time.Now().Before(o.expires) {
			// Still valid: use it, and try again on the next call.
			if o.warn != nil {
				o.warn(fmt.Sprintf("refreshing the OAuth2 token failed; the cached token, valid until %s, is used meanwhile and the refresh is retried on the next connection or challenge: %v",
					o.expires.UTC().Format(time.RFC3339), err))
			}
			return []byte(o.token), nil
		}
		return nil, err
	}
	o.token, o.expires = tok, exp
	return []byte(tok), nil
}

// clientCredentials reads the privateKey option: a path, a file:// URL or
// a data: URL of JSON with client_id and client_secret.
func (o *oauth2) clientCredentials() (id, secret string, err error) {
	var raw []byte
	switch ref := o.keyRef; {
	case strings.HasPrefix(ref, "data:"):
		meta, data, ok := strings.Cut(strings.TrimPrefix(ref, "data:"), ",")
		if !ok {
			return "", "", authError("authOAuth2 privateKey: a data: URL without data")
		}
		if strings.HasSuffix(meta, ";base64") {
			if raw, err = base64.StdEncoding.DecodeString(data); err != nil {
				return "", "", authError("authOAuth2 privateKey: the data: URL is not base64")
			}
		} else {
			s, err := url.PathUnescape(data)
			if err != nil {
				return "", "", authError("authOAuth2 privateKey: the data: URL is malformed")
			}
			raw = []byte(s)
		}
	default:
		path := strings.TrimPrefix(ref, "file://")
		if raw, err = os.ReadFile(path); err != nil {
			return "", "", authError("authOAuth2 privateKey: %v", err)
		}
	}
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID == "" || creds.ClientSecret == "" {
		return "", "", authError("authOAuth2 privateKey: not a JSON object with client_id and client_secret")
	}
	return creds.ClientID, creds.ClientSecret, nil
}

// fetch discovers the token endpoint if need be and asks it for a token.
func (o *oauth2) fetch(ctx context.Context) (string, time.Time, error) {
	if o.endpoint == "" {
		var disc struct {
			TokenEndpoint string `json:"token_endpoint"`
		}
		if err := o.getJSON(ctx, http.MethodGet, o.issuer+"/.well-known/openid-configuration", nil, &disc); err != nil {
			return "", time.Time{}, err
		}
		if disc.TokenEndpoint == "" {
			return "", time.Time{}, authError("OAuth2 issuer %s: its OpenID configuration names no token_endpoint", o.issuer)
		}
		o.endpoint = disc.TokenEndpoint
	}
	id, secret, err := o.clientCredentials()
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if o.audience != "" {
		form.Set("audience", o.audience)
	}
	if o.scope != "" {
		form.Set("scope", o.scope)
	}
	var tok struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   float64 `json:"expires_in"`
	}
	start := time.Now()
	if err := o.getJSON(ctx, http.MethodPost, o.endpoint, form, &tok); err != nil {
		return "", time.Time{}, err
	}
	if tok.AccessToken == "" {
		return "", time.Time{}, authError("OAuth2 token endpoint %s answered without an access_token", o.endpoint)
	}
	exp := start.Add(time.Hour) // no expiry given: an hour, re-fetched then
	if tok.ExpiresIn > 0 {
		exp = start.Add(time.Duration(tok.ExpiresIn * float64(time.Second)))
	}
	return tok.AccessToken, exp, nil
}

// getJSON makes one request and decodes a JSON answer into v. Errors name
// the URL and the HTTP status, never the form (it holds the secret).
func (o *oauth2) getJSON(ctx context.Context, method, u string, form url.Values, v any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return authError("OAuth2 request to %s: %v", u, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := o.http.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return authError("OAuth2 issuer %s: no answer before the connection timeout (connectionTimeout; request to %s)", o.issuer, strings.SplitN(u, "?", 2)[0])
		}
		return authError("OAuth2 issuer unreachable: %v", redactURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return authError("OAuth2 request to %s: reading the answer: %v", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return authError("OAuth2 request to %s: HTTP %s%s", u, resp.Status, oauthErrorText(data))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return authError("OAuth2 request to %s: the answer is not JSON (%v)", u, err)
	}
	return nil
}

// oauthErrorText is the error code an OAuth2 server put in its answer, if
// any, as ": invalid_client".
func oauthErrorText(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" && len(e.Error) < 100 {
		return fmt.Sprintf(" (%s)", e.Error)
	}
	return ""
}

// redactURLError keeps a url.Error's cause but not its URL's query.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s %s: %w", ue.Op, strings.SplitN(ue.URL, "?", 2)[0], ue.Err)
	}
	return err
}

// SetTokenSupplier makes f the source of the client's tokens, for
// connections made from now on and the brokers' challenges; it is called
// outside every lock, one call at a time. A client given other credentials
// by its options refuses it.
func (c *Client) SetTokenSupplier(f func() (string, error)) error {
	c.credsMu.Lock()
	defer c.credsMu.Unlock()
	if c.creds != nil {
		if _, ok := c.creds.(*supplierSource); !ok {
			return engine.Errorf(engine.CodeInvalidConfiguration, "the client already authenticates as its options say (authToken, authTokenFile or authOAuth2)")
		}
	}
	c.creds = &supplierSource{fn: f}
	return nil
}

// supplierSource calls a supplier set after creation, one call at a time.
type supplierSource struct {
	mu sync.Mutex
	fn func() (string, error)
}

func (*supplierSource) method() string { return "token" }

func (s *supplierSource) get(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return tokenSource{func(context.Context) (string, error) { return callSupplier(s.fn) }}.get(ctx)
}

// credentials returns the client's source of credentials.
func (c *Client) credentials() credentials {
	c.credsMu.Lock()
	defer c.credsMu.Unlock()
	return c.creds
}

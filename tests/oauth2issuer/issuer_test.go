// The issuer against a plain HTTP client: discovery, the client-credentials
// grant (form and Basic), refusals, the failure modes, the counters, and
// that its tokens are signed with the key given.
package oauth2issuer

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

func start(t *testing.T) (*Issuer, *http.Client) {
	t.Helper()
	set, err := pki.WriteSet(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	is, err := Start(Config{
		CertFile: set.Server, KeyFile: set.ServerKey, Host: "localhost",
		SecretKey: []byte("k"), TTL: 20 * time.Second, Audience: "aud",
		Clients: map[string]Client{"id": {Secret: "s3cret", Role: "role"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(is.Close)
	pem, _ := os.ReadFile(set.CA)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return is, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

func post(t *testing.T, c *http.Client, u string, form url.Values, basic bool) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(form.Get("client_id"), form.Get("client_secret"))
		form.Del("client_id")
		form.Del("client_secret")
		req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func TestIssuer(t *testing.T) {
	is, c := start(t)
	resp, err := c.Get(is.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	endpoint, _ := disc["token_endpoint"].(string)
	if endpoint != is.URL+"/oauth/token" || !strings.HasPrefix(is.URL, "https://localhost:") {
		t.Fatalf("discovery %v (issuer %s)", disc, is.URL)
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"s3cret"}, "audience": {"aud"}}
	for _, basic := range []bool{false, true} {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		status, m, body := post(t, c, endpoint, f, basic)
		tok, _ := m["access_token"].(string)
		if status != 200 || m["expires_in"] != float64(20) || len(strings.Split(tok, ".")) != 3 {
			t.Fatalf("basic=%v: %d %s", basic, status, body)
		}
		if want := pki.MintHS256([]byte("k"), "role", time.Unix(0, 0), nil); strings.Split(tok, ".")[0] != strings.Split(want, ".")[0] {
			t.Errorf("token header %q differs from pki's", tok)
		}
	}
	for name, f := range map[string]url.Values{
		"wrong secret":   {"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"no"}, "audience": {"aud"}},
		"unknown client": {"grant_type": {"client_credentials"}, "client_id": {"x"}, "client_secret": {"s3cret"}, "audience": {"aud"}},
		"wrong grant":    {"grant_type": {"password"}, "client_id": {"id"}, "client_secret": {"s3cret"}, "audience": {"aud"}},
		"wrong audience": {"grant_type": {"client_credentials"}, "client_id": {"id"}, "client_secret": {"s3cret"}, "audience": {"x"}},
	} {
		if status, m, _ := post(t, c, endpoint, f, false); status == 200 || m["error"] == nil {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	is.SetMode(HTTP500)
	if status, _, _ := post(t, c, endpoint, good, false); status != 500 {
		t.Errorf("HTTP500 mode answered %d", status)
	}
	is.SetMode(Garbage)
	if status, m, _ := post(t, c, endpoint, good, false); status != 200 || m != nil {
		t.Errorf("Garbage mode answered %d %v", status, m)
	}
	is.SetMode(NoToken)
	if status, m, _ := post(t, c, endpoint, good, false); status != 200 || m["access_token"] != nil {
		t.Errorf("NoToken mode answered %d %v", status, m)
	}
	d, r, n := is.Counts()
	if d != 1 || r != 9 || n != 2 || len(is.Issued()) != 2 {
		t.Errorf("counts: %d discovery, %d token requests, %d issued (%d kept); want 1, 9, 2", d, r, n, len(is.Issued()))
	}
	if is.OpenConns() == 0 {
		t.Errorf("the client's keep-alive connection is not counted")
	}
	c.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for is.OpenConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := is.OpenConns(); n != 0 {
		t.Errorf("%d connections counted after the client closed them", n)
	}
}

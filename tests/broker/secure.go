package broker

// The secured deployment (secure.sh) as the tests see it.
//
// How this works: secure.sh start runs a TLS + token + authorization
// broker, a mutual-TLS + token proxy in front of it and an OAuth2 issuer;
// `secure.sh env` prints PP_SECURE_* assignments that the runner
// (tests/run.sh) exports. SecureFromEnv reads them back, so a test needs no
// knowledge of ports or paths, and the suites of other languages read the
// same variables. The admin helpers call the broker's HTTPS admin API with
// the superuser token, trusting the deployment's CA.
//
// The variables (all set by `secure.sh env`):
//
//	PP_SECURE_URL              pulsar+ssl://localhost:6661, the broker over TLS
//	PP_SECURE_PLAIN_URL        pulsar://127.0.0.1:6660, the same broker in plaintext (tokens still required)
//	PP_SECURE_PROXY_URL        pulsar+ssl://localhost:6671, the proxy (client certificate required)
//	PP_SECURE_ADMIN_URL        https://localhost:8453
//	PP_SECURE_CA               CA file (tlsTrustCertsFilePath)
//	PP_SECURE_CLIENT_CERT/KEY  client certificate and key (for the proxy)
//	PP_SECURE_TOKEN            a token of role pp-client, no expiry
//	PP_SECURE_TOKEN_FILE       the same, in a file
//	PP_SECURE_ADMIN_TOKEN_FILE a superuser (pp-admin) token in a file
//	PP_SECURE_SECRET_KEY       the HS256 secret key file (to mint tokens)
//	PP_SECURE_NAMESPACE        pp/secure: pp-client may produce and consume there
//	PP_SECURE_OAUTH2_ISSUER    https://localhost:8455, tokens of role pp-client
//	PP_SECURE_OAUTH2_CREDENTIALS  its client's {client_id, client_secret} file
//	PP_SECURE_DIR              the run directory (all certificates: pki.SetIn)

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Secure describes the running secured deployment.
type Secure struct {
	URL, PlainURL, ProxyURL, AdminURL string
	CA, ClientCert, ClientKey         string
	Token, TokenFile                  string
	AdminTokenFile, SecretKeyFile     string
	Namespace                         string
	OAuth2Issuer, OAuth2Credentials   string
	Dir                               string

	http *http.Client
}

// SecureScript is the absolute path of secure.sh.
func SecureScript() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("broker: runtime.Caller failed")
	}
	return filepath.Join(filepath.Dir(file), "secure.sh")
}

// SecureFromEnv reads the PP_SECURE_* variables. The error lists those
// missing.
func SecureFromEnv() (*Secure, error) {
	var missing []string
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	s := &Secure{
		URL:               get("PP_SECURE_URL"),
		PlainURL:          get("PP_SECURE_PLAIN_URL"),
		ProxyURL:          get("PP_SECURE_PROXY_URL"),
		AdminURL:          strings.TrimRight(get("PP_SECURE_ADMIN_URL"), "/"),
		CA:                get("PP_SECURE_CA"),
		ClientCert:        get("PP_SECURE_CLIENT_CERT"),
		ClientKey:         get("PP_SECURE_CLIENT_KEY"),
		Token:             get("PP_SECURE_TOKEN"),
		TokenFile:         get("PP_SECURE_TOKEN_FILE"),
		AdminTokenFile:    get("PP_SECURE_ADMIN_TOKEN_FILE"),
		SecretKeyFile:     get("PP_SECURE_SECRET_KEY"),
		Namespace:         get("PP_SECURE_NAMESPACE"),
		OAuth2Issuer:      get("PP_SECURE_OAUTH2_ISSUER"),
		OAuth2Credentials: get("PP_SECURE_OAUTH2_CREDENTIALS"),
		Dir:               get("PP_SECURE_DIR"),
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the secured deployment is not described: %s unset (run `eval \"$(%s env | sed 's/^/export /')\"` after `%s start`)",
			strings.Join(missing, ", "), SecureScript(), SecureScript())
	}
	pem, err := os.ReadFile(s.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", s.CA)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	s.http = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	return s, nil
}

// SecretKey returns the HS256 key tokens are signed with.
func (s *Secure) SecretKey() ([]byte, error) { return os.ReadFile(s.SecretKeyFile) }

// AdminDo sends one admin request as the superuser. path starts with
// "/admin/"; body, if not nil, is sent as JSON.
func (s *Secure) AdminDo(method, path string, body any) (int, []byte, error) {
	tok, err := os.ReadFile(s.AdminTokenFile)
	if err != nil {
		return 0, nil, err
	}
	return adminRequest(s.http, method, s.AdminURL+path, body, strings.TrimSpace(string(tok)))
}

// Admin is AdminDo that fails the test unless the status is 2xx.
func (s *Secure) Admin(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	status, b, err := s.AdminDo(method, path, body)
	if err != nil {
		t.Fatalf("secure admin: %s %s: %v", method, path, err)
	}
	if status < 200 || status > 299 {
		t.Fatalf("secure admin: %s %s: HTTP %d: %s", method, path, status, strings.TrimSpace(string(b)))
	}
	return b
}

// NewTopic returns a unique, not yet created topic in the deployment's
// namespace.
func (s *Secure) NewTopic(t testing.TB, prefix string) string {
	return NewTopicIn(t, s.Namespace, prefix)
}

// NewTopicName is the full name of topic name in the deployment's
// namespace (for programs without a testing.TB).
func (s *Secure) NewTopicName(name string) string {
	return "persistent://" + s.Namespace + "/" + name
}

// CreatePartitionedTopic creates topic with n partitions.
func (s *Secure) CreatePartitionedTopic(t testing.TB, topic string, n int) {
	t.Helper()
	p, err := TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	s.Admin(t, http.MethodPut, "/admin/v2/"+p+"/partitions", n)
}

// UnloadTopic unloads a topic: the broker closes it, and its producers
// reconnect.
func (s *Secure) UnloadTopic(t testing.TB, topic string) {
	t.Helper()
	p, err := TopicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	s.Admin(t, http.MethodPut, "/admin/v2/"+p+"/unload", nil)
}

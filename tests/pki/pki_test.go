// Checks that the certificate set is what the secured deployment's tests
// rely on: the server certificate verifies for localhost and 127.0.0.1,
// the wrong-host one only for its name, the expired one not at all, the
// other CA signs none of them; and that tokens are HS256 JWTs with the
// claims asked for.
package pki

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, strings.TrimSuffix(path, ".pem")+".key")
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
	return p
}

func TestWriteSet(t *testing.T) {
	s, err := WriteSet(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots, other := pool(t, s.CA), pool(t, s.OtherCA)
	verify := func(path, name string, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
		_, err := load(t, path).Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	server := x509.ExtKeyUsageServerAuth
	for _, c := range []struct {
		path, name string
		roots      *x509.CertPool
		usage      x509.ExtKeyUsage
		ok         bool
	}{
		{s.Server, "localhost", roots, server, true},
		{s.Server, "127.0.0.1", roots, server, true},
		{s.Server, "localhost", other, server, false},
		{s.Server, WrongHostName, roots, server, false},
		{s.WrongHost, WrongHostName, roots, server, true},
		{s.WrongHost, "127.0.0.1", roots, server, false},
		{s.Expired, "localhost", roots, server, false},
		{s.Client, "", roots, x509.ExtKeyUsageClientAuth, true},
	} {
		if err := verify(c.path, c.name, c.roots, c.usage); (err == nil) != c.ok {
			t.Errorf("%s for %q: verify error %v, want ok=%v", c.path, c.name, err, c.ok)
		}
	}
	if exp := load(t, s.Expired); !exp.NotAfter.Before(time.Now()) {
		t.Errorf("the expired certificate is valid until %v", exp.NotAfter)
	}
	if b, _ := os.ReadFile(s.ServerKey); !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("the server key is not PKCS#8 PEM (the JVM reads only that)")
	}
}

func TestMintHS256(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	exp := time.Now().Add(time.Minute).Truncate(time.Second)
	tok := MintHS256(key, "role", exp, map[string]any{"iat": 1})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", tok)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if got, want := parts[2], b64.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		raw, err := b64.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("part %d of %q does not decode", i, tok)
		}
	}
	if header["alg"] != "HS256" || claims["sub"] != "role" || claims["exp"] != float64(exp.Unix()) || claims["iat"] != float64(1) {
		t.Errorf("header %v, claims %v", header, claims)
	}
	noExp := strings.Split(MintHS256(key, "r", time.Time{}, nil), ".")[1]
	if raw, _ := b64.DecodeString(noExp); strings.Contains(string(raw), "exp") {
		t.Errorf("a token without expiry has claims %s", raw)
	}
}

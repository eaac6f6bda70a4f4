// Package pki makes the certificates and tokens of the secured test
// deployment (tests/broker/secure.sh) at test time, so no key material is
// ever checked in.
//
// How this works: NewCA makes a self-signed certificate authority; Issue
// signs leaf certificates with it for the names and lifetime asked. The CA
// and the certificates that a JVM loads (the broker's, the proxy's and the
// client's) use RSA-2048 keys in PKCS#8 PEM, which every Pulsar TLS provider
// reads; certificates only Go ever sees (a wrong host name, an expired
// one, an untrusted CA) use ECDSA P-256, which is much faster to generate.
// WriteSet writes the whole set the deployment uses into a directory.
//
// MintHS256 makes the JSON Web Tokens that Pulsar's
// AuthenticationProviderToken accepts: HS256 over the broker's secret key
// (the raw bytes `bin/pulsar tokens create-secret-key` writes), with the
// role in "sub" and an optional "exp", exactly as `bin/pulsar tokens create`
// does.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Pair is a certificate with its private key, parsed and as PEM.
type Pair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte // PKCS#8
}

// Options describe a certificate to issue.
type Options struct {
	CommonName string
	DNSNames   []string
	IPs        []net.IP
	NotBefore  time.Time // default: an hour ago (clock skew)
	NotAfter   time.Time // default: 30 days after NotBefore
	Server     bool      // usable by a TLS server
	Client     bool      // usable by a TLS client (mutual TLS)
	ECDSA      bool      // P-256 instead of RSA-2048
}

func newKey(ec bool) (crypto.Signer, error) {
	if ec {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, 2048)
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
}

func encode(der []byte, key crypto.Signer) (*Pair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Pair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}, nil
}

func (o *Options) times() {
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = o.NotBefore.Add(30 * 24 * time.Hour)
	}
}

// newCert is the key and the certificate template both kinds share: a
// fresh key, a random serial, the subject and the validity of o.
func newCert(o Options) (crypto.Signer, *x509.Certificate, error) {
	o.times()
	key, err := newKey(o.ECDSA)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	return key, &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: o.CommonName, Organization: []string{"pulsar-producer tests"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
	}, nil
}

// NewCA makes a self-signed certificate authority.
func NewCA(o Options) (*Pair, error) {
	key, tmpl, err := newCert(o)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return encode(der, key)
}

// Issue signs a leaf certificate with the CA ca.
func (ca *Pair) Issue(o Options) (*Pair, error) {
	key, tmpl, err := newCert(o)
	if err != nil {
		return nil, err
	}
	tmpl.DNSNames, tmpl.IPAddresses = o.DNSNames, o.IPs
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return encode(der, key)
}

// Write writes the certificate and the key as PEM files (the key 0600).
func (p *Pair) Write(certPath, keyPath string) error {
	if err := os.WriteFile(certPath, p.CertPEM, 0o644); err != nil {
		return err
	}
	if keyPath == "" {
		return nil
	}
	return os.WriteFile(keyPath, p.KeyPEM, 0o600)
}

// Set names the files WriteSet writes into its directory.
type Set struct {
	Dir string
	// CA signs every certificate below except OtherCA's.
	CA, CAKey string
	// Server is for localhost and 127.0.0.1: the broker, the proxy and
	// the OAuth2 issuer serve it.
	Server, ServerKey string
	// Client is the client certificate for mutual TLS (CN pp-client).
	Client, ClientKey string
	// WrongHost is signed by CA but names only wrong.pp.test.
	WrongHost, WrongHostKey string
	// Expired is for localhost and 127.0.0.1, signed by CA, and expired
	// a day ago.
	Expired, ExpiredKey string
	// OtherCA is a CA that signed none of the above.
	OtherCA string
}

// WrongHostName is the only name in the WrongHost certificate.
const WrongHostName = "wrong.pp.test"

// SetIn returns the file names of a set in dir, without writing.
func SetIn(dir string) Set {
	p := func(name string) string { return filepath.Join(dir, name) }
	return Set{
		Dir: dir,
		CA:  p("ca.pem"), CAKey: p("ca.key"),
		Server: p("server.pem"), ServerKey: p("server.key"),
		Client: p("client.pem"), ClientKey: p("client.key"),
		WrongHost: p("wronghost.pem"), WrongHostKey: p("wronghost.key"),
		Expired: p("expired.pem"), ExpiredKey: p("expired.key"),
		OtherCA: p("other-ca.pem"),
	}
}

// WriteSet makes a fresh CA and every certificate of Set into dir.
func WriteSet(dir string) (Set, error) {
	s := SetIn(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	local := Options{DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}
	ca, err := NewCA(Options{CommonName: "pulsar-producer test CA"})
	if err != nil {
		return s, err
	}
	if err := ca.Write(s.CA, s.CAKey); err != nil {
		return s, err
	}
	steps := []struct {
		opts      Options
		cert, key string
	}{
		{Options{CommonName: "localhost", DNSNames: local.DNSNames, IPs: local.IPs, Server: true, Client: true}, s.Server, s.ServerKey},
		{Options{CommonName: "pp-client", Client: true}, s.Client, s.ClientKey},
		{Options{CommonName: WrongHostName, DNSNames: []string{WrongHostName}, Server: true, ECDSA: true}, s.WrongHost, s.WrongHostKey},
		{Options{CommonName: "localhost", DNSNames: local.DNSNames, IPs: local.IPs, Server: true, ECDSA: true,
			NotBefore: time.Now().Add(-30 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, s.Expired, s.ExpiredKey},
	}
	for _, st := range steps {
		p, err := ca.Issue(st.opts)
		if err != nil {
			return s, fmt.Errorf("issuing %s: %w", st.cert, err)
		}
		if err := p.Write(st.cert, st.key); err != nil {
			return s, err
		}
	}
	other, err := NewCA(Options{CommonName: "an untrusted CA", ECDSA: true})
	if err != nil {
		return s, err
	}
	return s, other.Write(s.OtherCA, "")
}

var b64 = base64.RawURLEncoding

// MintHS256 returns a JWT for role sub signed with key; exp zero means
// no expiry. extra claims are added as given.
func MintHS256(key []byte, sub string, exp time.Time, extra map[string]any) string {
	claims := map[string]any{"sub": sub}
	if !exp.IsZero() {
		claims["exp"] = exp.Unix()
	}
	for k, v := range extra {
		claims[k] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err) // only plain values are ever passed
	}
	signing := b64.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + b64.EncodeToString(payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

// RandomHex returns n random bytes as hex, for secrets and names.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}

// TLS is the host's: a WASI-hosted client reaches a pulsar+ssl:// broker
// through the same runtime as a native one, and an unusable CA file is an
// error when the client is made.
package wasm

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

// selfSigned makes a certificate for 127.0.0.1 and writes it as a PEM
// trust file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

func TestWASIHostTLS(t *testing.T) {
	cert, ca := selfSigned(t)
	srv := fakebroker.Start(t, fakebroker.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	m := testModule(t)
	c, err := m.NewClient(ClientOptions{ServiceURL: srv.URL(), TLSTrustCertsFilePath: ca, AuthToken: "wasi-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(c)
	p := createProducer(t, c, ProducerOptions{Topic: "tls"})
	if _, err := p.Send(context.Background(), &core.Message{Payload: []byte("over TLS")}); err != nil {
		t.Fatal(err)
	}
	if a := srv.Auths(); len(a) != 1 || string(a[0].Data) != "wasi-token" {
		t.Fatalf("the broker saw %+v", a)
	}
	_, err = m.NewClient(ClientOptions{ServiceURL: srv.URL(), TLSTrustCertsFilePath: filepath.Join(t.TempDir(), "none.pem")})
	if core.CodeOf(err) != core.CodeInvalidConfiguration {
		t.Fatalf("a missing CA file: %v", err)
	}
}

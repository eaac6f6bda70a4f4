// TLS: the configuration pulsar+ssl:// connections use, from the options.
//
// Files are read once, when the client is created, so that a missing or
// unreadable CA, certificate or key file (or a key that does not match its
// certificate) is an error then, naming the option. Each connection dials
// with the host of its address as the server name (SNI, and the name the
// certificate must be for). With tlsValidateHostname off, the chain is
// still verified, but not the name; with tlsAllowInsecureConnection,
// nothing is, and the client logs a warning once.
package driver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"

	"github.com/pulsar-producer/pulsar-producer/core/engine"
)

func configErr(option, format string, args ...any) error {
	return engine.Errorf(engine.CodeInvalidConfiguration, "option "+option+": "+format, args...)
}

// newTLSConfig builds the TLS configuration of a client.
func newTLSConfig(o *engine.ClientOptions) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if path := o.TLSTrustCertsFilePath; path != "" {
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, configErr("tlsTrustCertsFilePath", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, configErr("tlsTrustCertsFilePath", "%s holds no PEM certificate", path)
		}
		conf.RootCAs = pool
	}
	if o.TLSCertificateFilePath != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertificateFilePath, o.TLSKeyFilePath)
		if err != nil {
			return nil, configErr("tlsCertificateFilePath", "loading the client certificate %s with its key %s: %v", o.TLSCertificateFilePath, o.TLSKeyFilePath, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	switch {
	case o.TLSAllowInsecureConnection:
		conf.InsecureSkipVerify = true
	case o.TLSValidateHostname != nil && !*o.TLSValidateHostname:
		// Verify the chain, not the name.
		conf.InsecureSkipVerify = true
		roots := conf.RootCAs
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return conf, nil
}

// forHost is conf with the server name a dial to addr checks.
func forHost(conf *tls.Config, addr string) *tls.Config {
	c := conf.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		c.ServerName = host
	}
	return c
}

// tlsDialError says what a failed TLS handshake means for the user.
func tlsDialError(addr string, err error) error {
	var rec tls.RecordHeaderError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &rec):
		return engine.Errorf(engine.CodeConnectError, "%s did not answer in TLS: the port is probably a plaintext one; use a pulsar:// service URL, or the broker's TLS port", addr)
	case errors.As(err, &host):
		return engine.Errorf(engine.CodeConnectError, "TLS with %s: the broker's certificate is for %s, not %s (set tlsValidateHostname to false to accept it)",
			addr, certNames(host.Certificate), host.Host)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return engine.Errorf(engine.CodeConnectError, "TLS with %s: the connection closed during the TLS handshake: the port is probably a plaintext one; use a pulsar:// service URL, or the broker's TLS port", addr)
	case errors.As(err, &unknown):
		return engine.Errorf(engine.CodeConnectError, "TLS with %s: the broker's certificate is signed by an authority this client does not trust (set tlsTrustCertsFilePath): %v", addr, err)
	case errors.As(err, &invalid):
		return engine.Errorf(engine.CodeConnectError, "TLS with %s: the broker's certificate is not valid: %v", addr, err)
	}
	return engine.Errorf(engine.CodeConnectError, "TLS with %s: %v", addr, err)
}

// certNames lists the names a certificate is for.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "other names"
	}
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName+" (common name only)")
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}

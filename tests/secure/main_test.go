// Package secure tests the producer against real secured components: the
// TLS + token + authorization broker, the mutual-TLS + token Pulsar proxy
// and OAuth2 issuers of tests/broker/secure.sh, every message read back by
// the official Go client over TLS with a token.
//
// How this works: the runner (tests/run.sh, secure suite) starts the
// deployment once and exports its PP_SECURE_* variables
// (tests/broker/secure.go); TestMain reads them and skips the package when
// they are absent, unless PP_SECURE_REQUIRED=1 (the runner sets it), when
// their absence fails it. Certificates that only Go serves (a wrong host
// name, an expired one) are served by small TLS relays in front of the
// broker, started by the tests. Every test runs sequentially, so "nothing is
// left running" can be checked by looking for the runtime's goroutines
// after a client closed. Every error our API returned, every log record of
// every client (at debug level) and every stats value the tests saw are
// kept, and the last test (zz_secrets_test.go) looks through them for every
// token and client secret the suite used. The refresh test, which
// publishes for 95 s, runs only with PP_SECURE_LONG=1.
package secure

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

var (
	env       *broker.Secure
	secretKey []byte
	certs     pki.Set
)

func TestMain(m *testing.M) {
	var err error
	env, err = broker.SecureFromEnv()
	if err == nil {
		secretKey, err = env.SecretKey()
	}
	if err != nil {
		if os.Getenv("PP_SECURE_REQUIRED") == "1" {
			fmt.Println("--- FAIL: TestMain (0.00s)\n    secure:", err)
			os.Exit(1)
		}
		fmt.Println("secure: skipping every test:", err)
		os.Exit(0)
	}
	certs = pki.SetIn(env.Dir)
	addSecret("PP_SECURE_TOKEN", env.Token)
	for _, f := range []string{env.AdminTokenFile, env.TokenFile} {
		if b, err := os.ReadFile(f); err == nil {
			addSecret(f, string(b))
		}
	}
	addSecret("secret key (hex)", fmt.Sprintf("%x", secretKey))
	var creds struct {
		Secret string `json:"client_secret"`
	}
	if b, err := os.ReadFile(env.OAuth2Credentials); err == nil && json.Unmarshal(b, &creds) == nil {
		addSecret("the deployment's OAuth2 client secret", creds.Secret)
	}
	os.Exit(m.Run())
}

// The C ABI against the secured deployment (tests/broker/secure.sh): TLS
// with a token, the mutual-TLS proxy, and a token supplier written in C,
// read back by the official Go client over TLS with a token.
//
// How this works: the test needs the PP_SECURE_* variables of a running
// deployment (`eval "$(tests/broker/secure.sh env | sed 's/^/export /')"`).
// Without them it skips, unless PP_SECURE_REQUIRED=1, when it fails.
// pp_secure_test.c gets the variables in its environment (the token never
// goes on a command line), publishes to three topics of the deployment's
// namespace and checks the refusals itself; this test consumes each topic
// straight from the broker with the official Go client and finds every
// message at the ID the program got, and nothing else.
package capi

import (
	"os"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// secureEnv returns the deployment, or skips (fails with
// PP_SECURE_REQUIRED=1) when it is not described.
func secureEnv(t *testing.T) *broker.Secure {
	t.Helper()
	env, err := broker.SecureFromEnv()
	if err != nil {
		if os.Getenv("PP_SECURE_REQUIRED") == "1" {
			t.Fatalf("PP_SECURE_REQUIRED=1: %v", err)
		}
		t.Skipf("no secured deployment: %v", err)
	}
	return env
}

// secureConsume reads n messages of topic from the deployment's broker
// with the official Go client, over TLS with the deployment's token, and
// checks that no more follow.
func secureConsume(t *testing.T, env *broker.Secure, topic string, n int) []pulsar.Message {
	t.Helper()
	return verify.Consume(t, topic, n, verify.Options{ServiceURL: env.URL, TLSTrustCertsFile: env.CA, Token: env.Token,
		NoMoreWithin: time.Second})
}

func TestCSecure(t *testing.T) {
	env := secureEnv(t)
	prog := build(t, "pp_secure_test.c", false)
	prefix := env.NewTopic(t, "c-secure")
	ids := byLabel(t, runProgram(t, prog, runOptions{
		args: []string{prefix},
		env: []string{"PP_SECURE_URL=" + env.URL, "PP_SECURE_PROXY_URL=" + env.ProxyURL, "PP_SECURE_CA=" + env.CA,
			"PP_SECURE_CLIENT_CERT=" + env.ClientCert, "PP_SECURE_CLIENT_KEY=" + env.ClientKey, "PP_SECURE_TOKEN=" + env.Token},
	}))
	for _, kind := range []string{"tls", "proxy", "supplier"} {
		t.Run(kind, func(t *testing.T) {
			got := secureConsume(t, env, prefix+"-"+kind, 5)
			for i, m := range got {
				label := kind + "-" + string(rune('0'+i))
				id, ok := ids[label]
				switch {
				case !ok:
					t.Errorf("the program did not report %s", label)
				case string(m.Payload()) != label:
					t.Errorf("message %d of %s: the Go client read %q, want %q", i, kind, m.Payload(), label)
				case m.ID().LedgerID() != id[0] || m.ID().EntryID() != id[1] || m.ID().BatchIdx() != max(int32(id[3]), 0):
					t.Errorf("%s: the Go client found it at %v, the program was told %v", label, m.ID(), id)
				}
			}
		})
	}
}

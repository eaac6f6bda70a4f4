// The secrets check, in the file sorted last so that it runs after every
// other test of the package (they run one at a time, in file order).
package secure

import (
	"strings"
	"testing"
)

// fragments are the strings whose presence in a text betrays secret: the
// secret itself, and for a JWT also its payload and its signature alone
// (a log that cut the token at a dot would still leak them).
func fragments(secret string) []string {
	out := []string{secret}
	if parts := strings.Split(secret, "."); len(parts) == 3 {
		for _, p := range parts[1:] {
			if len(p) >= 16 {
				out = append(out, p)
			}
		}
	}
	return out
}

// leaks returns, for each text holding a fragment of a secret, a line
// saying which secret and where (the secret itself is not repeated).
func leaks(texts []string, secrets map[string]string) []string {
	var out []string
	for _, text := range texts {
		for secret, where := range secrets {
			for _, f := range fragments(secret) {
				if strings.Contains(text, f) {
					cut := text
					if len(cut) > 160 {
						cut = cut[:160] + "..."
					}
					out = append(out, "the secret from "+where+" appears in: "+strings.ReplaceAll(cut, f, "<SECRET>"))
					break
				}
			}
		}
	}
	return out
}

// No token and no client secret used by the suite appears in any error
// our API returned, any log record of any client, or any stats value. The
// tokens include every one the suite's OAuth2 issuers issued.
func TestZZSecretsNeverAppear(t *testing.T) {
	// The check itself must be able to fail.
	sig := strings.Repeat("s", 43)
	planted := map[string]string{"eyJhbGciOiJIUzI1NiJ9." + strings.Repeat("p", 30) + "." + sig: "a planted secret"}
	if len(leaks([]string{"cut at the dot: " + sig + " end"}, planted)) != 1 || len(leaks([]string{"nothing"}, planted)) != 0 {
		t.Fatal("the leak check does not find a planted secret")
	}
	corpus.mu.Lock()
	texts := append([]string(nil), corpus.texts...)
	secrets := make(map[string]string, len(corpus.secrets))
	for s, w := range corpus.secrets {
		secrets[s] = w
	}
	issuers := corpus.issuers
	nerr, nlog := corpus.errs, corpus.logs
	corpus.mu.Unlock()
	for _, is := range issuers {
		for _, tok := range is.Issued() {
			secrets[tok] = "an OAuth2 issuer"
		}
	}
	if nerr < 20 || nlog < 100 {
		t.Skipf("only %d errors and %d log records were collected: run the whole package", nerr, nlog)
	}
	t.Logf("looked for %d secrets in %d errors, %d log records and %d texts in all", len(secrets), nerr, nlog, len(texts))
	found := leaks(texts, secrets)
	for i, l := range found {
		if i == 20 {
			t.Errorf("... and %d more", len(found)-20)
			break
		}
		t.Error(l)
	}
}

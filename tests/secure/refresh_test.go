// Credentials that expire while a producer publishes. The broker and the
// proxy check every 5 s (authenticationRefreshCheckSeconds) whether a
// connection's token expired and then send AUTH_CHALLENGE; the client must
// answer on the same connection with fresh credentials, or the connection
// is closed.
package secure

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
)

// rewriteToken replaces the token file atomically (a reader never sees a
// half-written file, as with a Kubernetes secret volume).
func rewriteToken(t *testing.T, path, tok string) {
	tmp := filepath.Join(filepath.Dir(path), ".token.tmp")
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Error(err)
	}
}

// lane is one client publishing steadily during the refresh test.
type lane struct {
	name     string
	opts     core.ClientOptions
	c        *core.Client
	sink     *logSink
	p        *core.Producer
	topic    string
	out      outbox
	connects int64 // connections made when publishing started
}

// Four clients publish for 95 s with tokens that live 20 s, each across
// four or more expiries: OAuth2 (the token is fetched again for each
// challenge, as it expires within the 30 s refresh margin), a token file
// rewritten every 5 s, a Go token supplier, and a token file through the
// proxy. None may fail a send, reconnect, open another connection or log a
// warning; each must have answered at least 3 challenges (logged at debug
// level); everything is read back. Runs only with PP_SECURE_LONG=1 (the
// suite's runner sets it): it takes 95 s.
func TestRefreshAcrossExpiries(t *testing.T) {
	if os.Getenv("PP_SECURE_LONG") != "1" {
		t.Skip("publishes for 95 s; set PP_SECURE_LONG=1 (tests/run.sh does)")
	}
	const (
		ttl      = 20 * time.Second
		duration = 95 * time.Second
		interval = 20 * time.Millisecond // 50 messages a second per lane
	)
	is, keyFile, _ := startIssuer(t, ttl)
	tokenFile := writeFile(t, "token", token("pp-client", ttl))
	var supplierCalls atomic.Int64

	lanes := []*lane{
		{name: "oauth2", opts: oauthOpts(is, keyFile)},
		{name: "token-file", opts: tlsOpts("")},
		{name: "supplier", opts: tlsOpts("")},
		{name: "proxy-token-file", opts: proxyOpts(env.ProxyURL)},
	}
	lanes[1].opts.AuthTokenFile = tokenFile
	lanes[2].opts.TokenSupplier = func() (string, error) {
		supplierCalls.Add(1)
		return token("pp-client", ttl), nil
	}
	lanes[3].opts.AuthTokenFile = tokenFile
	for _, l := range lanes {
		l.c, l.sink = mustClient(t, l.opts)
		l.topic = env.NewTopic(t, "refresh-"+l.name)
		l.p = mustProducer(t, l.c, core.ProducerOptions{Topic: l.topic, BatchingMaxMessages: 100})
		l.connects = l.c.Stats().Connects
	}

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a fresh 20 s token in the file every 5 s
		defer wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				rewriteToken(t, tokenFile, token("pp-client", ttl))
			}
		}
	}()
	for _, l := range lanes {
		wg.Add(1)
		go func(l *lane) {
			defer wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					l.out.send(l.p, l.name, i, "")
				}
			}
		}(l)
	}
	wg.Wait()

	for _, l := range lanes {
		t.Run(l.name, func(t *testing.T) {
			if err := l.p.Flush(context.Background()); err != nil {
				noteErr(err)
				t.Errorf("Flush: %v", err)
			}
			msgs := l.out.wait(t)
			st, cs := l.p.Stats(), l.c.Stats()
			noteStats(st)
			challenges := l.sink.count(slog.LevelDebug, "asks for fresh credentials")
			t.Logf("%d messages, %d challenges answered, %d connections", len(msgs), challenges, cs.Connects)
			if st.MsgsFailed != 0 || st.MsgsAcked != int64(len(msgs)) {
				t.Errorf("%d messages failed, %d of %d acknowledged", st.MsgsFailed, st.MsgsAcked, len(msgs))
			}
			if st.Reconnects != 0 || cs.Connects != l.connects {
				t.Errorf("%d reconnects and %d new connections while publishing; want none", st.Reconnects, cs.Connects-l.connects)
			}
			if challenges < 3 {
				t.Errorf("only %d challenges answered in %v with %v tokens; the broker's refresh check did not run as configured", challenges, duration, ttl)
			}
			if n := l.sink.count(slog.LevelWarn, ""); n != 0 {
				t.Errorf("%d warnings or errors logged:%s", n, l.sink.dump())
			}
			if len(msgs) < int(duration/interval)/2 {
				t.Errorf("only %d messages sent in %v", len(msgs), duration)
			}
			checkReadBack(t, l.topic, msgs)
		})
	}
	if _, _, issued := is.Counts(); issued < 4 {
		t.Errorf("the OAuth2 issuer issued %d tokens in %v with a %v lifetime; want at least 4 (one per challenge)", issued, duration, ttl)
	}
	if n := supplierCalls.Load(); n < 4 {
		t.Errorf("the token supplier was called %d times; want at least 4 (one per challenge)", n)
	}
	_, _, issued := is.Counts()
	t.Logf("the issuer issued %d tokens, the supplier was called %d times", issued, supplierCalls.Load())
}

// A token file deleted while the producer publishes: when the broker
// challenges the expired token, the file cannot be read, the connection is
// closed, and the producer fails with an AuthenticationError that names the
// token file, well within its send timeout; nothing hangs and Close
// returns at once.
func TestTokenFileDeletedBetweenChallenges(t *testing.T) {
	const ttl = 8 * time.Second
	tokenFile := writeFile(t, "token", token("pp-client", ttl))
	opts := tlsOpts("")
	opts.AuthTokenFile = tokenFile
	c, sink := mustClient(t, opts)
	p := mustProducer(t, c, core.ProducerOptions{Topic: env.NewTopic(t, "token-deleted"), SendTimeout: 60 * time.Second})
	before := publish(t, p, "before", 50, 0)
	if len(before) != 50 {
		t.Fatal("publishing before the deletion failed")
	}
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	// The token expires at most 8 s from now, the broker notices within 5 s
	// more; allow 12 s beyond that for the challenge and the failure.
	deadline := deleted.Add(ttl + 5*time.Second + 12*time.Second)
	var failure error
	for i := 0; failure == nil && time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Until(deadline))
		_, err := p.Send(ctx, &core.Message{Payload: payload("after", i)})
		cancel()
		noteErr(err)
		if err != nil {
			failure = err
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failure == nil {
		t.Fatalf("sends still succeed %v after the token file was deleted (its token expired)", time.Since(deleted).Round(time.Second))
	}
	t.Logf("failed %v after the deletion: %v", time.Since(deleted).Round(100*time.Millisecond), failure)
	checkErr(t, failure, core.CodeAuthenticationError, tokenFile)
	if n := sink.count(slog.LevelWarn, tokenFile); n < 1 {
		t.Errorf("the unreadable token file was not logged as a warning or error:%s", sink.dump())
	}
	err := within(t, 5*time.Second, "Close", func() error { return p.Close(context.Background()) })
	noteErr(err)
}

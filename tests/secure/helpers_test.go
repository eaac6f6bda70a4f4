// Helpers of the secured-deployment tests: clients whose log records and
// errors are kept for the secrets check, publishing with recorded
// outcomes, reading back with the official Go client over TLS with a
// token, TLS relays that present other certificates, and the "nothing left
// running" check.
package secure

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/oauth2issuer"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
	"github.com/pulsar-producer/pulsar-producer/tests/verify"
)

// --- What the suite saw, for the secrets check ---

type seen struct {
	mu      sync.Mutex
	texts   []string // every error, log record and stats value, labelled
	errs    int
	logs    int
	secrets map[string]string // secret -> where it came from
	issuers []*oauth2issuer.Issuer
}

var corpus = &seen{secrets: map[string]string{}}

func (s *seen) add(kind, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "error":
		s.errs++
	case "log":
		s.logs++
	}
	s.texts = append(s.texts, kind+": "+text)
}

// noteErr keeps an error our API returned (its message and its Go
// representation).
func noteErr(err error) {
	if err != nil {
		corpus.add("error", fmt.Sprintf("%v | %#v", err, err))
	}
}

// noteStats keeps a stats value.
func noteStats(v any) { corpus.add("stats", fmt.Sprintf("%+v", v)) }

// addSecret registers a secret the suite uses.
func addSecret(where, secret string) {
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return
	}
	corpus.mu.Lock()
	corpus.secrets[secret] = where
	corpus.mu.Unlock()
}

// token mints a token of role sub expiring after ttl (never if 0), and
// registers it as a secret.
func token(sub string, ttl time.Duration) string {
	var exp time.Time
	if ttl != 0 {
		exp = time.Now().Add(ttl)
	}
	tok := pki.MintHS256(secretKey, sub, exp, nil)
	addSecret("minted for "+sub, tok)
	return tok
}

// --- Log capture ---

// logSink keeps the records of one client; every record also goes to the
// corpus.
type logSink struct {
	mu   sync.Mutex
	recs []logRec
}

type logRec struct {
	Level slog.Level
	Text  string // message and attributes
}

func (r logRec) String() string { return r.Level.String() + " " + r.Text }

type sinkHandler struct {
	sink  *logSink
	attrs []slog.Attr
}

func (h sinkHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h sinkHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	rec := logRec{Level: r.Level, Text: b.String()}
	h.sink.mu.Lock()
	h.sink.recs = append(h.sink.recs, rec)
	h.sink.mu.Unlock()
	corpus.add("log", rec.String())
	return nil
}

func (h sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sinkHandler{h.sink, append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h sinkHandler) WithGroup(string) slog.Handler { return h }

// records returns the records so far.
func (s *logSink) records() []logRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logRec(nil), s.recs...)
}

// count counts the records at level min or above that contain substr.
func (s *logSink) count(min slog.Level, substr string) int {
	n := 0
	for _, r := range s.records() {
		if r.Level >= min && strings.Contains(r.Text, substr) {
			n++
		}
	}
	return n
}

func (s *logSink) dump() string {
	var b strings.Builder
	for _, r := range s.records() {
		b.WriteString("\n    " + r.String())
	}
	return b.String()
}

// --- Clients and producers ---

// newClient creates a client with a capturing logger at debug level (so
// the secrets check sees every record), noting any error. The client is
// closed when the test ends, and then nothing of it may be left running.
func newClient(t *testing.T, opts core.ClientOptions) (*core.Client, *logSink, error) {
	t.Helper()
	sink := &logSink{}
	opts.Logger = slog.New(sinkHandler{sink: sink})
	if opts.LogLevel == core.LogWarn { // the zero value: ask for everything
		opts.LogLevel = core.LogDebug
	}
	watchLeftovers(t)
	c, err := core.NewClient(opts)
	noteErr(err)
	if err != nil {
		return nil, sink, err
	}
	t.Cleanup(func() {
		noteStats(c.Stats())
		if err := c.Close(); err != nil {
			noteErr(err)
		}
	})
	return c, sink, nil
}

var watched sync.Map // *testing.T -> true

// watchLeftovers makes the test check, once every cleanup registered
// after this call has run (so every client of the test is closed), that no
// library goroutine is left.
func watchLeftovers(t *testing.T) {
	if _, dup := watched.LoadOrStore(t, true); !dup {
		t.Cleanup(func() { expectNothingRunning(t) })
	}
}

func mustClient(t *testing.T, opts core.ClientOptions) (*core.Client, *logSink) {
	t.Helper()
	c, sink, err := newClient(t, opts)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", opts.ServiceURL, err)
	}
	return c, sink
}

// tlsOpts are the options of a client of the broker over TLS with token.
func tlsOpts(tok string) core.ClientOptions {
	return core.ClientOptions{ServiceURL: env.URL, TLSTrustCertsFilePath: env.CA, AuthToken: tok}
}

// createProducer creates a producer within 60 s, noting the error.
func createProducer(c *core.Client, opts core.ProducerOptions) (*core.Producer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := c.CreateProducer(ctx, opts)
	noteErr(err)
	return p, err
}

func mustProducer(t *testing.T, c *core.Client, opts core.ProducerOptions) *core.Producer {
	t.Helper()
	p, err := createProducer(c, opts)
	if err != nil {
		t.Fatalf("CreateProducer(%s): %v", opts.Topic, err)
	}
	return p
}

// sent is one published message and its outcome.
type sent struct {
	payload []byte
	key     string
	id      core.MessageID
	err     error
}

// outbox records the outcomes of SendAsync in send order.
type outbox struct {
	mu     sync.Mutex
	msgs   []*sent
	wg     sync.WaitGroup
	failed atomic.Int64
}

// send publishes one message of about 100 bytes numbered i.
func (o *outbox) send(p *core.Producer, prefix string, i int, key string) {
	s := &sent{payload: payload(prefix, i), key: key}
	o.mu.Lock()
	o.msgs = append(o.msgs, s)
	o.mu.Unlock()
	o.wg.Add(1)
	p.SendAsync(context.Background(), &core.Message{Payload: s.payload, Key: key}, func(id core.MessageID, err error) {
		s.id, s.err = id, err
		if err != nil {
			o.failed.Add(1)
			noteErr(err)
		}
		o.wg.Done()
	})
}

// wait waits for every outcome (bounded) and fails the test on any error.
func (o *outbox) wait(t *testing.T) []*sent {
	t.Helper()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("outcomes still missing after 90 s")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, s := range o.msgs {
		if s.err != nil {
			t.Fatalf("message %d of %d failed: %v", i, len(o.msgs), s.err)
		}
	}
	return o.msgs
}

func payload(prefix string, i int) []byte {
	p := fmt.Sprintf("%s-%07d-", prefix, i)
	return append([]byte(p), bytes.Repeat([]byte{'x'}, max(0, 100-len(p)))...)
}

// publish sends n messages (keys cycling over nkeys keys if nkeys > 0),
// waits for them all, and returns them.
func publish(t *testing.T, p *core.Producer, prefix string, n, nkeys int) []*sent {
	t.Helper()
	var o outbox
	for i := 0; i < n; i++ {
		key := ""
		if nkeys > 0 {
			key = fmt.Sprintf("k%d", i%nkeys)
		}
		o.send(p, prefix, i, key)
	}
	if err := p.Flush(context.Background()); err != nil {
		noteErr(err)
		t.Fatalf("Flush: %v", err)
	}
	return o.wait(t)
}

// --- Reading back with the official Go client ---

// readBack consumes n messages of topic (every partition) with the
// official Go client over TLS, authenticated with the deployment's token,
// straight from the broker; nothing more may come (a duplicate would).
func readBack(t *testing.T, topic string, n int) []pulsar.Message {
	t.Helper()
	return verify.Consume(t, topic, n, verify.Options{ServiceURL: env.URL, TLSTrustCertsFile: env.CA, Token: env.Token,
		Timeout: 60 * time.Second, NoMoreWithin: 500 * time.Millisecond})
}

// checkReadBack reads topic back and compares it with what was sent:
// the same payloads and keys, each under the ID our receipt gave, in send
// order within each partition, nothing missing and nothing extra.
func checkReadBack(t *testing.T, topic string, want []*sent) {
	t.Helper()
	got := readBack(t, topic, len(want))
	byPayload := make(map[string]*sent, len(want))
	for _, s := range want {
		byPayload[string(s.payload)] = s
	}
	// Per partition, the position in send order of the last message seen.
	order := make(map[int32]int)
	index := make(map[*sent]int, len(want))
	for i, s := range want {
		index[s] = i
	}
	bad := 0
	for _, m := range got {
		s := byPayload[string(m.Payload())]
		if s == nil {
			t.Errorf("read back %q, which was not sent (or twice)", m.Payload())
			bad++
			continue
		}
		delete(byPayload, string(m.Payload()))
		if m.Key() != s.key {
			t.Errorf("%q: key %q, sent %q", m.Payload(), m.Key(), s.key)
			bad++
		}
		if g, w := verify.IDOf(m.ID()), verify.GoView(s.id); g != w {
			t.Errorf("%q: read back with ID %+v, our receipt said %+v (%v)", m.Payload(), g, w, s.id)
			bad++
		}
		part := m.ID().PartitionIdx()
		if last, ok := order[part]; ok && index[s] < last {
			t.Errorf("%q (message %d) read after message %d on partition %d: out of order", m.Payload(), index[s], last, part)
			bad++
		}
		order[part] = index[s]
		if bad > 10 {
			t.Fatal("too many differences")
		}
	}
	if len(byPayload) > 0 {
		t.Errorf("%d messages were not read back", len(byPayload))
	}
}

// --- Relays ---

// relay accepts connections and forwards each to target; with cert set it
// terminates TLS with that certificate first (and forwards plaintext),
// otherwise it passes bytes through unchanged. It counts the bytes clients
// sent through it.
type relay struct {
	ln       net.Listener
	target   string
	cert     *tls.Certificate
	up       atomic.Int64 // bytes from clients
	accepted atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

// startRelay starts a relay on 127.0.0.1, stopped when the test ends.
func startRelay(t *testing.T, target, certFile, keyFile string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		r.cert = &c
	}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.accepted.Add(1)
		if r.cert != nil {
			c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*r.cert}, MinVersion: tls.VersionTLS12})
		}
		b, err := net.DialTimeout("tcp", r.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, b)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			_, _ = io.Copy(countingWriter{b, &r.up}, c)
			b.Close()
		}()
		go func() {
			defer r.wg.Done()
			_, _ = io.Copy(c, b)
			c.Close()
		}()
	}
}

// countingWriter counts the bytes written through it as they pass.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (cw countingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n.Add(int64(n))
	return n, err
}

// dropConns closes the connections open through the relay; it keeps
// accepting new ones.
func (r *relay) dropConns() {
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// --- Nothing left running ---

// ourFrames are the packages whose goroutines a closed client must not
// leave behind.
var ourFrames = []string{
	"github.com/pulsar-producer/pulsar-producer/internal/",
	"github.com/pulsar-producer/pulsar-producer/core.",
	"github.com/pulsar-producer/pulsar-producer/core/",
}

// ourGoroutines returns the stacks of live goroutines running library
// code, but not the calling one.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // this goroutine
		}
		for _, f := range ourFrames {
			if strings.Contains(g, f) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// expectNothingRunning fails the test if library goroutines are still
// running 5 s after every client of the test closed (tests run one at a
// time, so every library goroutine belongs to this test).
func expectNothingRunning(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := ourGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d library goroutines still running after the client closed:\n%s", len(left), strings.Join(left, "\n\n"))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeFile writes a file in the test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// within fails the test if f takes longer than d; it returns f's error.
func within(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	start := time.Now()
	err := f()
	if el := time.Since(start); el > d {
		t.Errorf("%s took %v, more than %v", what, el.Round(time.Millisecond), d)
	}
	return err
}

// portOf returns the port of a service URL such as pulsar+ssl://host:port.
func portOf(t *testing.T, serviceURL string) string {
	t.Helper()
	_, hostport, ok := strings.Cut(serviceURL, "://")
	_, port, err := net.SplitHostPort(hostport)
	if !ok || err != nil {
		t.Fatalf("no port in %q", serviceURL)
	}
	return port
}

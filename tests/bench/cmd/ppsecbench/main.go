// Command ppsecbench measures publishing to the secured broker of
// tests/broker/secure.sh (TLS + token authentication): this project's
// native producer against the official Go client configured the same way,
// and the native producer over TLS against the same broker's plaintext port
// (tokens on both), all in the same run. tests/bench.sh runs it.
//
// How this works: the deployment is found through the PP_SECURE_*
// variables (`secure.sh env`). Each measured round runs in a child process
// of its own (this binary with -child), so that the CPU time it reports
// (getrusage of the child, user + system, over the send loop and the
// flush) is one client's alone, with no garbage or goroutines of another
// round. Each child creates a client and a producer on a fresh topic
// (untimed), publishes -n messages of 100 bytes with SendAsync, batching
// up to 1000 messages or 10 ms and waiting when the queue is full, then
// flushes; every message must be acknowledged. The parent alternates the
// three configurations for -rounds rounds and prints each one's median
// round by throughput, and the ratios.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/sirupsen/logrus"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/bench"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/pki"
)

const (
	payloadSize  = 100
	batchMax     = 1000
	batchDelay   = 10 * time.Millisecond
	goMaxPending = 10000 // the Go client's default (1000) is a single batch in flight
)

// configs, in the order they alternate.
var configs = []string{"native-tls", "go-client-tls", "native-plaintext"}

// result is one round, as a child reports it.
type result struct {
	Config   string
	Messages int
	Seconds  float64 // send loop + flush
	CPU      float64 // the child's user + system CPU seconds over the same span
}

func (r result) rate() float64    { return float64(r.Messages) / r.Seconds }
func (r result) cpuPerM() float64 { return r.CPU / (float64(r.Messages) / 1e6) }

func main() {
	n := flag.Int("n", 1_000_000, "messages per round")
	rounds := flag.Int("rounds", 3, "rounds per configuration; the median is reported")
	child := flag.String("child", "", "run one round of this configuration and print it as JSON (internal)")
	verbose := flag.Bool("v", false, "print every round")
	flag.Parse()
	env, err := broker.SecureFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ppsecbench:", err)
		os.Exit(2)
	}
	if *child != "" {
		res, err := runRound(env, *child, *n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ppsecbench:", *child+":", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ppsecbench:", err)
		os.Exit(1)
	}
	all := map[string][]result{}
	for range *rounds {
		for _, cfg := range configs {
			out, err := exec.Command(self, "-child", cfg, "-n", fmt.Sprint(*n)).Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					fmt.Fprint(os.Stderr, string(ee.Stderr))
				}
				fmt.Fprintln(os.Stderr, "ppsecbench: round of", cfg, "failed:", err)
				os.Exit(1)
			}
			var r result
			if err := json.Unmarshal(out, &r); err != nil {
				fmt.Fprintf(os.Stderr, "ppsecbench: %s: %v: %q\n", cfg, err, out)
				os.Exit(1)
			}
			if *verbose {
				fmt.Printf("round: %-16s %9.0f msg/s  %5.2f cpu-s/Mmsg\n", r.Config, r.rate(), r.cpuPerM())
			}
			all[cfg] = append(all[cfg], r)
		}
	}
	med := map[string]result{}
	for _, cfg := range configs {
		med[cfg] = bench.Median(all[cfg], result.rate)
		r := med[cfg]
		fmt.Printf("%-17s %9.0f msg/s  %5.2f cpu-s per million messages (client process)\n", r.Config, r.rate(), r.cpuPerM())
	}
	nt, gt, np := med["native-tls"], med["go-client-tls"], med["native-plaintext"]
	fmt.Printf("native vs official Go client, both TLS + token: %.2fx the throughput, %.2fx less CPU per message (target: >= 2x, >= 2x)\n",
		nt.rate()/gt.rate(), gt.cpuPerM()/nt.cpuPerM())
	fmt.Printf("cost of TLS (native): %.0f%% of the plaintext throughput, %.2fx the CPU per message\n",
		100*nt.rate()/np.rate(), nt.cpuPerM()/np.cpuPerM())
	fmt.Printf("(median of %d rounds of %d x %d B per configuration, alternating; load average %s)\n", *rounds, *n, payloadSize, cmp.Or(bench.LoadAverage(3), "unknown"))
}

// publisher is what a round needs of either client.
type publisher interface {
	send(payload []byte)
	flush(ctx context.Context) error
	close()
}

func runRound(env *broker.Secure, cfg string, n int) (result, error) {
	topic := env.NewTopicName("bench-" + cfg + "-" + pki.RandomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var a bench.Counter
	var p publisher
	var err error
	switch cfg {
	case "native-tls":
		p, err = newNative(ctx, core.ClientOptions{ServiceURL: env.URL, TLSTrustCertsFilePath: env.CA, AuthToken: env.Token}, topic, &a)
	case "native-plaintext":
		p, err = newNative(ctx, core.ClientOptions{ServiceURL: env.PlainURL, AuthToken: env.Token}, topic, &a)
	case "go-client-tls":
		p, err = newGoClient(env, topic, &a)
	default:
		return result{}, fmt.Errorf("unknown configuration %q", cfg)
	}
	if err != nil {
		return result{}, err
	}
	defer p.close()
	payload := make([]byte, payloadSize)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	cpu0, t0 := bench.CPUTime(), time.Now()
	for range n {
		p.send(payload)
	}
	ferr := p.flush(ctx)
	res := result{Config: cfg, Messages: n, Seconds: time.Since(t0).Seconds(), CPU: (bench.CPUTime() - cpu0).Seconds()}
	if ferr != nil {
		return res, fmt.Errorf("flush: %w", ferr)
	}
	if ok, failed, first := a.Results(); ok != int64(n) || failed != 0 {
		return res, fmt.Errorf("%d of %d acknowledged, %d failed (first: %v)", ok, n, failed, first)
	}
	return res, nil
}

type native struct {
	c  *core.Client
	p  *core.Producer
	cb func(core.MessageID, error)
}

func newNative(ctx context.Context, opts core.ClientOptions, topic string, a *bench.Counter) (*native, error) {
	c, err := core.NewClient(opts)
	if err != nil {
		return nil, err
	}
	p, err := c.CreateProducer(ctx, core.ProducerOptions{
		Topic: topic, BatchingMaxMessages: batchMax, BatchingMaxPublishDelay: batchDelay, BlockIfQueueFull: true,
	})
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &native{c: c, p: p, cb: func(_ core.MessageID, err error) { a.Done(err) }}, nil
}

func (x *native) send(payload []byte) {
	x.p.SendAsync(context.Background(), &core.Message{Payload: payload}, x.cb)
}
func (x *native) flush(ctx context.Context) error { return x.p.Flush(ctx) }
func (x *native) close()                          { _ = x.c.Close() }

type goClient struct {
	c  pulsar.Client
	p  pulsar.Producer
	cb func(pulsar.MessageID, *pulsar.ProducerMessage, error)
}

func newGoClient(env *broker.Secure, topic string, a *bench.Counter) (*goClient, error) {
	lg := logrus.New()
	lg.SetOutput(io.Discard)
	c, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:                   env.URL,
		TLSTrustCertsFilePath: env.CA,
		TLSValidateHostname:   true,
		Authentication:        pulsar.NewAuthenticationToken(env.Token),
		Logger:                log.NewLoggerWithLogrus(lg),
	})
	if err != nil {
		return nil, err
	}
	p, err := c.CreateProducer(pulsar.ProducerOptions{
		Topic: topic, BatchingMaxMessages: batchMax, BatchingMaxPublishDelay: batchDelay,
		MaxPendingMessages: goMaxPending,
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return &goClient{c: c, p: p, cb: func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { a.Done(err) }}, nil
}

func (x *goClient) send(payload []byte) {
	x.p.SendAsync(context.Background(), &pulsar.ProducerMessage{Payload: payload}, x.cb)
}
func (x *goClient) flush(ctx context.Context) error { return x.p.FlushWithCtx(ctx) }
func (x *goClient) close() {
	x.p.Close()
	x.c.Close()
}

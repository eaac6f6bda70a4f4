// Package javacheck consumes messages with the official Apache Pulsar JAVA
// client, as an independent check of what a producer wrote.
//
// How this works: JavaCheck.java (next to this file) is compiled once per
// process (and cached across processes) with javac against the jars of the
// Pulsar distribution that broker.sh installed ($PULSAR_HOME/lib/*), and
// packed into a jar in a cache directory outside the repository:
// ${PP_CACHE:-$HOME/.cache/pulsar-producer}/javacheck/<hash>/, where the hash
// covers the Java source, PULSAR_HOME and the java binary. Consume runs
// `java ... JavaCheck URL TOPIC N TIMEOUT_MS TYPE [SUBSCRIPTION]`, which
// prints one JSON object per message and a final {"done":true,"count":N}
// on stdout, and decodes the lines into Message values.
//
// Start-up time: the first run also records a class-data-sharing archive
// (-XX:ArchiveClassesAtExit) in the same cache directory; later runs map it
// (-XX:SharedArchiveFile), which cuts JVM start + consume of 10 messages
// from ~2.7 s to ~1.5 s on a 2-core machine (the recording run takes ~9 s).
// Set JAVACHECK_CDS=0 to disable this.
package javacheck

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

// Options tune Consume.
type Options struct {
	// SubscriptionType is "exclusive" (default), "shared", "failover" or
	// "key_shared". Messages with a delivery time need "shared".
	SubscriptionType string
	// Subscription is the subscription name; default a unique one.
	Subscription string
	// Timeout bounds how long the consumer waits for the n messages once
	// subscribed (default 30 s). JVM start-up comes on top.
	Timeout time.Duration
	// AllowFewer makes Consume return fewer than n messages instead of
	// failing (to check that no more than some count arrive, ask for more
	// with a short Timeout).
	AllowFewer bool
	// ServiceURL defaults to broker.ServiceURL().
	ServiceURL string
}

// Message is one message as the Java client saw it.
type Message struct {
	Topic      string `json:"topic"` // partition name for partitioned topics
	LedgerID   int64  `json:"ledgerId"`
	EntryID    int64  `json:"entryId"`
	Partition  int32  `json:"partition"`  // -1 if not partitioned
	BatchIndex int32  `json:"batchIndex"` // -1 if the message was not batched
	BatchSize  int32  `json:"batchSize"`  // 0 if the message was not batched

	Payload       []byte `json:"payloadBase64"`
	PayloadLength int    `json:"payloadLength"`
	// NullValue is MessageMetadata.null_value (for batched messages the
	// client copies SingleMessageMetadata.null_value into it).
	NullValue bool `json:"nullValue"`

	Properties       map[string]string `json:"properties"`
	HasKey           bool              `json:"hasKey"`
	Key              string            `json:"key"`
	KeyBase64Encoded bool              `json:"keyBase64Encoded"`
	HasOrderingKey   bool              `json:"hasOrderingKey"`
	OrderingKey      []byte            `json:"orderingKeyBase64"`

	EventTime     int64    `json:"eventTime"` // 0 if none (ms)
	PublishTime   int64    `json:"publishTime"`
	SequenceID    int64    `json:"sequenceId"`
	ProducerName  string   `json:"producerName"`
	ReplicateTo   []string `json:"replicateTo"`
	DeliverAtTime *int64   `json:"deliverAtTime"` // nil if not set (ms)

	Compression      string `json:"compression"`      // NONE, LZ4, ZLIB, ZSTD, SNAPPY
	UncompressedSize *int   `json:"uncompressedSize"` // of the entry (whole batch)

	ReceivedAtMillis int64 `json:"receivedAtMillis"`
	RedeliveryCount  int   `json:"redeliveryCount"`
}

// Result is the outcome of one JavaCheck run.
type Result struct {
	Messages []Message
	Count    int    // the count in the final "done" line
	Stderr   string // the JVM's stderr (client logs, timings, errors)
	Elapsed  time.Duration
}

// Consume reads up to n messages of topic with the Java client (subscribing
// from the earliest position) and returns them in arrival order. It fails the
// test, showing the JVM's stderr, if the run fails or (unless
// opts.AllowFewer) fewer than n messages arrived.
func Consume(t testing.TB, topic string, n int, opts Options) []Message {
	t.Helper()
	broker.Require(t)
	res, err := Run(context.Background(), topic, n, opts)
	if err != nil {
		t.Fatalf("javacheck: %v", err)
	}
	if len(res.Messages) < n && !opts.AllowFewer {
		t.Fatalf("javacheck: got %d of %d messages from %s\nstderr:\n%s", len(res.Messages), n, topic, res.Stderr)
	}
	return res.Messages
}

// Run is Consume without a testing.TB: it returns an error (with stderr)
// if the program fails; receiving fewer than n messages is not an error.
func Run(ctx context.Context, topic string, n int, opts Options) (res Result, err error) {
	jar, err := prepare()
	if err != nil {
		return res, err
	}
	if opts.SubscriptionType == "" {
		opts.SubscriptionType = "exclusive"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ServiceURL == "" {
		opts.ServiceURL = broker.ServiceURL()
	}

	args := []string{
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m",
		// JVM (unified) logging goes to stdout by default: keep stdout JSON-only.
		"-Xlog:disable", "-Xlog:all=error:stderr",
	}
	var training string
	if os.Getenv("JAVACHECK_CDS") != "0" {
		jsa := filepath.Join(filepath.Dir(jar), "javacheck.jsa")
		if _, statErr := os.Stat(jsa); statErr == nil {
			args = append(args, "-XX:SharedArchiveFile="+jsa)
		} else {
			training = fmt.Sprintf("%s.%d.tmp", jsa, os.Getpid())
			args = append(args, "-XX:ArchiveClassesAtExit="+training)
			defer func() {
				if err == nil { // the named result: the run succeeded
					_ = os.Rename(training, jsa)
				}
				_ = os.Remove(training)
			}()
		}
	}
	args = append(args,
		"-cp", jar+string(os.PathListSeparator)+filepath.Join(broker.PulsarHome(), "lib", "*"),
		"JavaCheck", opts.ServiceURL, topic, strconv.Itoa(n),
		strconv.FormatInt(opts.Timeout.Milliseconds(), 10), opts.SubscriptionType)
	if opts.Subscription != "" {
		args = append(args, opts.Subscription)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	res.Elapsed = time.Since(start)
	res.Stderr = stderr.String()
	if runErr != nil {
		return res, fmt.Errorf("java JavaCheck %s: %v\nstderr:\n%s\nstdout:\n%s", topic, runErr, res.Stderr, stdout.String())
	}
	res.Messages, res.Count, err = parse(stdout.Bytes())
	if err != nil {
		return res, fmt.Errorf("java JavaCheck %s: %v\nstderr:\n%s", topic, err, res.Stderr)
	}
	return res, nil
}

// parse decodes JavaCheck's stdout. Lines that are not JSON objects (a JVM
// warning that escaped the -Xlog settings, say) are ignored.
func parse(out []byte) ([]Message, int, error) {
	var msgs []Message
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 256<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var done struct {
			Done  bool `json:"done"`
			Count int  `json:"count"`
		}
		if err := json.Unmarshal(line, &done); err != nil {
			return msgs, 0, fmt.Errorf("bad output line %q: %v", line, err)
		}
		if done.Done {
			if done.Count != len(msgs) {
				return msgs, done.Count, fmt.Errorf("done line says %d messages, got %d", done.Count, len(msgs))
			}
			return msgs, done.Count, nil
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return msgs, 0, fmt.Errorf("bad message line %q: %v", line, err)
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		return msgs, 0, err
	}
	return msgs, 0, errors.New("no final done line in the output")
}

var prep struct {
	once sync.Once
	jar  string
	err  error
}

// Jar compiles JavaCheck.java if needed and returns the path of the jar
// holding it.
func Jar() (string, error) { return prepare() }

func prepare() (string, error) {
	prep.once.Do(func() { prep.jar, prep.err = build() })
	return prep.jar, prep.err
}

func cacheRoot() (string, error) {
	if d := os.Getenv("PP_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "pulsar-producer"), nil
}

func build() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("runtime.Caller failed")
	}
	srcPath := filepath.Join(filepath.Dir(self), "JavaCheck.java")
	src, err := os.ReadFile(srcPath)
	if err != nil {
		return "", err
	}
	home := broker.PulsarHome()
	javaPath, err := exec.LookPath("java")
	if err != nil {
		return "", err
	}
	if p, err := filepath.EvalSymlinks(javaPath); err == nil {
		javaPath = p
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", home, javaPath)
	// A re-extracted distribution has new jar mtimes, which invalidates
	// the class-data-sharing archive: key on the install marker.
	if fi, err := os.Stat(filepath.Join(home, ".pp-installed")); err == nil {
		fmt.Fprintf(h, "%d\x00", fi.ModTime().UnixNano())
	}
	h.Write(src)
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "javacheck", hex.EncodeToString(h.Sum(nil))[:16])
	jar := filepath.Join(dir, "javacheck.jar")
	if _, err := os.Stat(jar); err == nil {
		return jar, nil
	}
	if _, err := os.Stat(filepath.Join(home, "lib")); err != nil {
		return "", fmt.Errorf("pulsar distribution not installed (run broker.sh install): %v", err)
	}

	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	classes := filepath.Join(tmp, "classes")
	cmd := exec.Command("javac", "-nowarn", "-d", classes,
		"-cp", filepath.Join(home, "lib", "*"), srcPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("javac %s: %v\n%s", srcPath, err, out)
	}
	if err := writeJar(filepath.Join(tmp, "javacheck.jar"), classes); err != nil {
		return "", err
	}
	if err := os.RemoveAll(classes); err != nil {
		return "", err
	}
	// Publish atomically; if another process won the race, use its copy.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(jar); statErr != nil {
			return "", fmt.Errorf("publishing %s: %v", dir, err)
		}
	}
	return jar, nil
}

// writeJar packs the class files under dir into a jar (a zip file; the
// class path needs no manifest). Class-data sharing only accepts jars.
func writeJar(path, dir string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		r, err := os.Open(p)
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(w, r)
		return err
	})
	if err := zw.Close(); walkErr == nil {
		walkErr = err
	}
	if err := f.Close(); walkErr == nil {
		walkErr = err
	}
	if walkErr != nil {
		return fmt.Errorf("writing %s: %v", path, walkErr)
	}
	return nil
}

// String summarises a message for test failure output.
func (m Message) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d:%d:%d:%d/%d seq=%d producer=%s len=%d",
		m.Topic, m.LedgerID, m.EntryID, m.Partition, m.BatchIndex, m.BatchSize,
		m.SequenceID, m.ProducerName, m.PayloadLength)
	if m.HasKey {
		fmt.Fprintf(&b, " key=%q", m.Key)
	}
	if m.NullValue {
		b.WriteString(" null")
	}
	return b.String()
}

// The harness of the fault scenarios: the cluster, the proxies, the
// producers, one run of a scenario, and the table.
//
// How this works: TestMain (only when PP_FAULTS is set) takes a lock that
// keeps two fault runs on one machine apart, starts the cluster unless it
// already runs (and then stops it at the end only if it started it, also
// when go test's timeout is about to strike), opens one fault proxy per
// broker on the broker's external listener, builds the Go producer and the
// C producer (ASan, -Werror), and creates two namespaces with 16 bundles and
// infinite retention: one with deduplication, one without. TestFaults then
// runs every scenario with each producer and deduplication setting
// (scenarios_test.go), each on a topic of its own placed on a chosen
// broker, and prints the table; PP_FAULTS_OUT gets it as Markdown with the
// date and the machine.
package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
	"github.com/pulsar-producer/pulsar-producer/tests/faultproxy"
)

var (
	mode = os.Getenv("PP_FAULTS") // "", "short" or "full"
	h    *harness
)

type harness struct {
	cl             *broker.Cluster
	startedCluster bool
	clusterStart   string
	proxies        [2]*faultproxy.Proxy
	goBin, cBin    string
	nsDedup        string
	nsPlain        string
	began          time.Time
	placement      int // alternates the broker a new topic is placed on
	teardownOnce   sync.Once
}

var root = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}()

func TestMain(m *testing.M) {
	if mode == "" {
		os.Exit(m.Run()) // the scenarios skip themselves
	}
	if mode != "short" && mode != "full" {
		fmt.Fprintf(os.Stderr, "faults: PP_FAULTS=%q: want short or full\n", mode)
		os.Exit(2)
	}
	os.Exit(func() int {
		unlock, err := lockRuns()
		if err != nil {
			fmt.Fprintf(os.Stderr, "faults: %v\n", err)
			return 1
		}
		defer unlock()
		h, err = setup()
		if h != nil {
			defer h.teardown()
			// go test's -timeout panics without running deferred calls:
			// stop the cluster we started shortly before it would.
			flag.Parse()
			if f := flag.Lookup("test.timeout"); f != nil {
				if d, _ := time.ParseDuration(f.Value.String()); d > time.Minute {
					watchdog := time.AfterFunc(d-30*time.Second, func() {
						fmt.Fprintln(os.Stderr, "faults: the run is about to time out; stopping what it started")
						h.teardown()
						os.Exit(1)
					})
					defer watchdog.Stop()
				}
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "faults: setup: %v\n", err)
			return 1
		}
		return m.Run()
	}())
}

// lockRuns holds a file lock for the whole run: the scenarios kill brokers
// and cut connections, so two runs on one machine (two checkouts, or two
// `make test` at once) would spoil each other's figures. A second run waits.
func lockRuns() (func(), error) {
	dir := os.Getenv("PP_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".cache", "pulsar-producer")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "faults.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(90 * time.Minute)
	for said := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %v", f.Name(), err)
		}
		if !said {
			fmt.Fprintf(os.Stderr, "faults: another fault run holds %s; waiting for it\n", f.Name())
			said = true
		}
		time.Sleep(time.Second)
	}
}

func randomHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func setup() (*harness, error) {
	h := &harness{began: time.Now()}
	cl, err := broker.LoadCluster()
	if err != nil {
		return nil, err
	}
	h.cl = cl
	if !cl.Ready() {
		out, err := cl.Start()
		if err != nil {
			return h, err
		}
		h.startedCluster = true
		// The script's last line says how long the start took.
		h.clusterStart = out[strings.LastIndex(out, "\n")+1:]
		fmt.Fprintf(os.Stderr, "faults: %s\n", out)
	} else {
		fmt.Fprintln(os.Stderr, "faults: using the cluster that is already running")
	}
	for i, b := range cl.Brokers {
		p, err := faultproxy.New(faultproxy.Config{Listen: b.Proxied, Target: b.Addr, Lifetime: 4 * time.Hour})
		if err != nil {
			return h, err
		}
		h.proxies[i] = p
	}
	tmp, err := os.MkdirTemp("", "pp-faults-")
	if err != nil {
		return h, err
	}
	h.goBin = filepath.Join(tmp, "producer")
	if out, err := exec.Command("go", "build", "-o", h.goBin, "./producer").CombinedOutput(); err != nil {
		return h, fmt.Errorf("building the Go producer: %v\n%s", err, out)
	}
	if h.cBin, err = buildC(tmp); err != nil {
		return h, err
	}
	suffix := randomHex()
	h.nsDedup, h.nsPlain = "public/fault-dedup-"+suffix, "public/fault-plain-"+suffix
	if err := cl.CreateNamespace(h.nsDedup, 16, true); err != nil {
		return h, err
	}
	if err := cl.CreateNamespace(h.nsPlain, 16, false); err != nil {
		return h, err
	}
	return h, nil
}

// buildC compiles the C producer as tests/capi compiles its programs:
// warnings are errors, and AddressSanitizer and UBSan watch it.
func buildC(dir string) (string, error) {
	lib := filepath.Join(root, "build", "lib")
	if _, err := os.Stat(filepath.Join(lib, "libpulsar_producer.so")); err != nil {
		return "", fmt.Errorf("%s/libpulsar_producer.so is missing; run `make lib` first", lib)
	}
	out := filepath.Join(dir, "faults_producer")
	args := []string{"-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", filepath.Join(root, "include"),
		"-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all",
		"-o", out, filepath.Join("testdata", "faults_producer.c"),
		"-L", lib, "-lpulsar_producer", "-Wl,-rpath," + lib, "-lpthread"}
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out, nil
}

func (h *harness) teardown() { h.teardownOnce.Do(h.doTeardown) }

func (h *harness) doTeardown() {
	if h.nsDedup != "" {
		h.ensureBrokers()
		h.cl.DeleteNamespace(h.nsDedup)
		h.cl.DeleteNamespace(h.nsPlain)
	}
	for _, p := range h.proxies {
		if p != nil {
			p.Close()
		}
	}
	if h.startedCluster {
		if out, err := h.cl.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "faults: stopping the cluster: %v\n%s\n", err, out)
		}
	}
}

// ensureBrokers restarts a broker a scenario left dead.
func (h *harness) ensureBrokers() error {
	for n := 1; n <= 2; n++ {
		if !h.cl.BrokerUp(n) {
			if err := h.cl.RestartBroker(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// resetProxies undoes every fault.
func (h *harness) resetProxies() {
	for _, p := range h.proxies {
		// Reset first: a stalled connection left over holds bytes that
		// must not reach the broker after the producer gave up on them.
		p.Cut()
		p.Unstall()
		p.SetDelay(0)
		p.SetThrottle(0, 0)
		p.Accept()
	}
}

func (h *harness) proxyStats() (s faultproxy.Stats) {
	for _, p := range h.proxies {
		x := p.Stats()
		s.Accepted += x.Accepted
		s.BytesUp += x.BytesUp
		s.BytesDown += x.BytesDown
	}
	return s
}

// run is one run of a scenario: one producer, one topic.
type run struct {
	h      *harness
	sc     *scenario
	lang   string
	dedup  bool
	full   bool
	topic  string
	owner  int // the broker the topic (or partition 0) was placed on
	count  int
	rate   int
	p      *proc
	ctx    context.Context // ends when the producer exits
	cancel context.CancelFunc

	mu          sync.Mutex
	afterOutage int    // outage-past-timeout: the first message that must succeed
	marks       []mark // one per fault, when it was in force
	faults      int
	faultKinds  map[string]int
	notes       []string
	violations  []string
}

func (r *run) violate(format string, args ...any) {
	r.mu.Lock()
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// progress waits until fraction f of the messages are acknowledged; false
// if the producer ended first.
func (r *run) progress(f float64) bool {
	return r.p.waitAcked(int(f*float64(r.count)), 10*time.Minute)
}

// fault records one fault, just injected: it marks the producer, so that
// recovery is measured from the moment the fault was in force.
func (r *run) fault(kind string) {
	m, err := r.p.mark()
	if err != nil {
		r.violate("mark: %v", err)
	}
	r.mu.Lock()
	if err == nil {
		r.marks = append(r.marks, m)
	}
	r.faults++
	r.faultKinds[kind]++
	r.mu.Unlock()
}

// sleep waits d or until the producer exits; false if it exited.
func (r *run) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-r.ctx.Done():
		return false
	}
}

// placeTopic creates the run's topic and puts it (each partition) on a
// chosen broker, so that "the owner" is known and both brokers serve a
// partitioned topic.
func (r *run) placeTopic() error {
	ns := r.h.nsPlain
	if r.dedup {
		ns = r.h.nsDedup
	}
	r.topic = fmt.Sprintf("persistent://%s/%s-%s-%s", ns, r.sc.name, r.lang, randomHex())
	if err := r.h.cl.CreateTopic(r.topic, r.sc.partitions); err != nil {
		return err
	}
	r.h.placement++
	r.owner = 1 + r.h.placement%2
	names := []string{r.topic}
	if r.sc.partitions > 0 {
		names = names[:0]
		for i := 0; i < r.sc.partitions; i++ {
			names = append(names, fmt.Sprintf("%s-partition-%d", r.topic, i))
		}
	}
	// Partitions in one bundle move together: alternate per bundle.
	owners := map[int]bool{}
	bundles := map[string]int{}
	for _, name := range names {
		_, bundle, err := r.h.cl.Bundle(name)
		if err != nil {
			return err
		}
		want, seen := bundles[bundle]
		if !seen {
			want = 1 + (r.owner-1+len(bundles))%2
			bundles[bundle] = want
			if err := r.h.cl.MoveTopic(name, want); err != nil {
				return err
			}
		}
		owners[want] = true
	}
	if r.sc.partitions > 1 && len(owners) != 2 {
		return fmt.Errorf("the partitions of %s are all on one broker", r.topic)
	}
	// The topic picks up the namespace's deduplication policy when it loads.
	want := map[bool]string{true: "Enabled", false: "Disabled"}[r.dedup]
	for _, name := range names {
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := r.h.cl.TopicStats(name)
			if err == nil && st["deduplicationStatus"] == want {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: deduplicationStatus %v (%v), want %s", name, st["deduplicationStatus"], err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func mergeJSON(base, extra map[string]any) string {
	m := map[string]any{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// execute runs one scenario with one producer and deduplication setting.
func execute(t *testing.T, sc *scenario, lang string, dedup bool) *result {
	r := &run{h: h, sc: sc, lang: lang, dedup: dedup, full: mode == "full", faultKinds: map[string]int{}}
	res := &result{scenario: sc.name, lang: lang, dedup: dedup, recoveryExpected: sc.recovery}
	r.count, r.rate = sc.count[0], sc.rate[0]
	if r.full {
		r.count, r.rate = sc.count[1], sc.rate[1]
	}
	if err := h.ensureBrokers(); err != nil {
		t.Fatalf("restarting a broker: %v", err)
	}
	h.resetProxies()
	if err := r.placeTopic(); err != nil {
		t.Fatalf("placing the topic: %v", err)
	}
	if sc.setup != nil {
		sc.setup(r)
	}
	size := max(sc.size, 100)
	clientOpts := mergeJSON(map[string]any{
		"listenerName": "external", "connectionTimeout": 5000, "operationTimeout": 10000,
		"initialBackoff": 100, "maxBackoff": 1000,
	}, sc.client)
	producerOpts := mergeJSON(map[string]any{
		"producerName": fmt.Sprintf("%s-%s-%s", sc.name, lang, randomHex()), "sendTimeout": 30000,
	}, sc.producer)
	var argv []string
	url := h.cl.ProxiedServiceURL()
	if lang == "go" {
		argv = []string{h.goBin, "-url", url, "-topic", r.topic, "-count", fmt.Sprint(r.count), "-rate", fmt.Sprint(r.rate),
			"-size", fmt.Sprint(size), "-client", clientOpts, "-producer", producerOpts}
	} else {
		argv = []string{h.cBin, url, r.topic, fmt.Sprint(r.count), fmt.Sprint(r.rate), fmt.Sprint(size), clientOpts, producerOpts}
	}
	before := h.proxyStats()
	// The bound on the whole run: the sending time at the rate, or through
	// the throttle, plus room for recoveries and the closing flush.
	budget := 3 * time.Minute
	if r.rate > 0 {
		budget += time.Duration(r.count/r.rate) * time.Second * 2
	}
	if sc.throttle > 0 {
		budget += time.Duration(int64(r.count)*int64(size)/sc.throttle) * time.Second * 2
	}
	pctx, pcancel := context.WithTimeout(context.Background(), budget+time.Minute)
	defer pcancel()
	start := time.Now()
	p, err := startProc(pctx, argv, []string{"ASAN_OPTIONS=detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS=print_stacktrace=1"})
	if err != nil {
		t.Fatalf("starting the producer: %v", err)
	}
	r.p = p
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go func() {
		p.waitFor(budget+time.Minute, func() bool { return p.exited })
		r.cancel()
	}()
	if !p.waitFor(60*time.Second, func() bool { return p.ready }) {
		p.cmd.Process.Kill()
		p.wait(10 * time.Second)
		t.Fatalf("the producer did not get ready: %v\n%s\nstdout: %s\nstderr: %s", p.exitErr, strings.Join(p.errors, "\n"),
			strings.Join(p.stdoutTail, "\n"), tail(p.stderr.String(), 30))
	}
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		if sc.inject != nil {
			sc.inject(r)
		}
	}()
	if err := p.wait(budget); err != nil {
		r.violate("producer: %v", err)
	}
	<-injected
	res.elapsed = time.Since(start)
	if sc.after != nil {
		sc.after(r)
	}
	h.resetProxies()
	if err := h.ensureBrokers(); err != nil {
		t.Fatalf("restarting a broker: %v", err)
	}
	after := h.proxyStats()
	res.proxyUp = after.BytesUp - before.BytesUp

	p.mu.Lock()
	ackedSet := map[int]bool{}
	for _, o := range p.outcomes {
		if o.kind == 'A' || o.kind == 'D' {
			ackedSet[o.i] = true
		}
	}
	stderr := p.stderr.String()
	errorsOut := append([]string(nil), p.errors...)
	p.mu.Unlock()
	got, err := readBack(h.cl.ServiceURL(), r.topic, func(seen map[int]int) bool {
		for i := range ackedSet {
			if seen[i] == 0 {
				return false
			}
		}
		return true
	}, 90*time.Second)
	if err != nil {
		r.violate("reading back: %v", err)
	}
	r.mu.Lock()
	marks := append([]mark(nil), r.marks...)
	r.mu.Unlock()
	analyze(res, p, got, marks)

	res.faults, res.faultDesc = r.faults, describeFaults(r.faultKinds)
	res.notes = append(res.notes, r.notes...)
	res.violations = append(res.violations, r.violations...)
	for _, e := range errorsOut {
		res.violations = append(res.violations, "producer: "+e)
	}
	if strings.Contains(stderr, "Sanitizer") || strings.Contains(stderr, "runtime error") || strings.Contains(stderr, "panic:") {
		res.violations = append(res.violations, "producer stderr:\n"+tail(stderr, 40))
	}
	judge(r, res)
	if sc.check != nil {
		sc.check(r, res)
	}
	for _, v := range res.violations {
		t.Errorf("%s", v)
	}
	if len(res.violations) > 0 {
		t.Logf("topic %s; producer stderr tail:\n%s", r.topic, tail(stderr, 20))
	}
	return res
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func describeFaults(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// judge checks the targets every scenario shares.
func judge(r *run, res *result) {
	bad := func(format string, args ...any) {
		res.violations = append(res.violations, fmt.Sprintf(format, args...))
	}
	if res.noOutcome > 0 || res.multiOutcome > 0 {
		bad("exactly one outcome per accepted message: %d without, %d with more than one", res.noOutcome, res.multiOutcome)
	}
	if res.late > 0 {
		bad("%d outcomes arrived after Close returned", res.late)
	}
	if res.lost > 0 {
		bad("%d acknowledged messages lost", res.lost)
	}
	if res.ooo > 0 {
		bad("%d messages out of order", res.ooo)
	}
	if res.idMismatch > 0 {
		bad("%d messages not stored at the ID the producer reported", res.idMismatch)
	}
	if res.phantom > 0 {
		bad("%d stored messages the producer refused or never sent", res.phantom)
	}
	if r.dedup && res.duplicated > 0 {
		bad("%d duplicates with deduplication on", res.duplicated)
	}
	if res.dupOutsideWindow > 0 {
		bad("%d duplicates of messages that completed before any fault", res.dupOutsideWindow)
	}
	if !r.sc.expectFailures && res.failed+res.refused > 0 {
		bad("%d messages failed (%v)", res.failed+res.refused, res.failCodes)
	}
	if r.sc.recovery && res.unrecovered > 0 {
		bad("%d faults were never recovered from", res.unrecovered)
	}
	for _, c := range res.closes {
		if c.pending != 0 {
			bad("%s close left %d messages unsettled", c.what, c.pending)
		}
	}
	// The data went through the proxies: at least every stored payload byte.
	if payload := int64(res.acked-res.dupAcked) * int64(max(r.sc.size, 100)); res.proxyUp < payload {
		bad("the proxies forwarded %d bytes, less than the %d payload bytes acknowledged: the producer bypassed them",
			res.proxyUp, payload)
	}
}

// TestFaults runs the table.
func TestFaults(t *testing.T) {
	if mode == "" {
		t.Skip("set PP_FAULTS=short or PP_FAULTS=full (make faults) to run the fault scenarios against a cluster")
	}
	var sel *regexp.Regexp
	if s := os.Getenv("PP_FAULTS_RUN"); s != "" {
		sel = regexp.MustCompile(s)
	}
	var results []*result
	for _, sc := range scenarios() {
		if sel != nil && !sel.MatchString(sc.name) {
			continue
		}
		for _, lang := range []string{"go", "c"} {
			if lang == "c" && mode == "short" && !sc.cShort {
				continue
			}
			for _, dedup := range []bool{true, false} {
				if lang == "c" && mode == "short" && !dedup {
					continue
				}
				name := fmt.Sprintf("%s/%s/dedup=%v", sc.name, lang, dedup)
				t.Run(name, func(t *testing.T) {
					res := execute(t, sc, lang, dedup)
					results = append(results, res)
					t.Logf("%s", rowOf(res))
				})
			}
		}
	}
	table := renderTable(results)
	fmt.Println(table)
	if out := os.Getenv("PP_FAULTS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(renderDoc(results, table)), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func rowOf(r *result) string {
	dedup := map[bool]string{true: "on", false: "off"}[r.dedup]
	acked := fmt.Sprint(r.acked)
	if r.dupAcked > 0 {
		acked += fmt.Sprintf(" (%d dup-suppressed)", r.dupAcked)
	}
	rec := "n/a"
	if len(r.recoveries) == 1 {
		rec = fmtDur(r.recoveries[0])
	} else if len(r.recoveries) > 1 {
		mx := time.Duration(0)
		for _, d := range r.recoveries {
			mx = max(mx, d)
		}
		rec = fmt.Sprintf("max %s, median %s", fmtDur(mx), fmtDur(median(append([]time.Duration(nil), r.recoveries...))))
	}
	if r.unrecovered > 0 && r.recoveryExpected {
		rec += fmt.Sprintf(" (%d never)", r.unrecovered)
	}
	failed := fmt.Sprint(r.failed + r.refused)
	if len(r.failCodes) > 0 {
		var codes []string
		for c, n := range r.failCodes {
			codes = append(codes, fmt.Sprintf("%s %d", codeName(c), n))
		}
		sort.Strings(codes)
		failed += " (" + strings.Join(codes, ", ") + ")"
	}
	notes := append([]string(nil), r.notes...)
	if r.failedButStored > 0 {
		notes = append(notes, fmt.Sprintf("%d failed but stored", r.failedButStored))
	}
	notes = append(notes, fmt.Sprintf("%d reconnects", r.reconnects))
	if len(r.violations) > 0 {
		notes = append(notes, fmt.Sprintf("**%d target(s) missed**", len(r.violations)))
	}
	return fmt.Sprintf("| %s | %s | %s | %d | %s | %s | %s | %d | %d | %d | %s | %s | %s |",
		r.scenario, r.lang, dedup, r.attempted, orNone(r.faultDesc, r.faults), acked, failed, r.lost, r.duplicated, r.ooo,
		fmtDur(r.p99), rec, strings.Join(notes, "; "))
}

func orNone(desc string, n int) string {
	if n == 0 {
		return "none"
	}
	return desc
}

func renderTable(results []*result) string {
	var b bytes.Buffer
	b.WriteString("| scenario | producer | dedup | sent | faults injected | acked | failed with error | lost (acked, not consumed) | duplicated | out of order | p99 send latency | recovery after the fault | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		b.WriteString(rowOf(r) + "\n")
	}
	return b.String()
}

// machine describes where the table was made.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kib int64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kib)
				mem = fmt.Sprintf(", %d GiB", (kib+512<<10)>>20)
			}
		}
	}
	kernel, _ := exec.Command("uname", "-sr").Output()
	return fmt.Sprintf("%s, %d cores%s, %s, %s", cpu, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)), runtime.Version())
}

// renderDoc is docs/RELIABILITY.md: the table with how it was made.
func renderDoc(results []*result, table string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Reliability\n\n<!-- Written by `make faults` (tests/faults, PP_FAULTS=%s). Do not edit by hand. -->\n\n", mode)
	fmt.Fprintf(&b, "Made on %s, on %s, in %s.\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine(),
		time.Since(h.began).Round(time.Second))
	fmt.Fprintf(&b, "The cluster: Apache Pulsar 4.0.8 from Maven Central, one ZooKeeper, one bookie and two brokers on 127.0.0.1 (tests/broker/cluster.sh)")
	if h.clusterStart != "" {
		fmt.Fprintf(&b, "; %s", h.clusterStart)
	}
	b.WriteString(".\n\n")
	b.WriteString(`Every producer reaches the brokers through a fault-injection proxy
(tests/faultproxy) on the brokers' "external" advertised listener: its
lookups ask for that listener, so the brokers' redirects send the data
connections through the proxies too. The notes of a row are checked: the
proxies forwarded at least every payload byte acknowledged.

Every acknowledged message is looked for by an independent consumer, the
official Go client (v0.19.0), reading the topic from the start through the
brokers' internal listener. **lost** counts acknowledged messages it did not
find; **duplicated** counts extra copies; **out of order** counts messages
stored after a later one of the same partition. The producer's reported
message ID must be where the consumer found the message. A message that the
broker's deduplication recognised as already stored (ID -1:-1) counts as
acknowledged (dup-suppressed), and must be stored once. **failed with error**
counts messages that completed with an error, or that the C ABI refused at
once (fail-fast sends). **recovery** runs from each fault to the first
acknowledgement of a message accepted after it. **p99 send latency** is the
producer's own histogram (accurate to its bucket).

Targets, checked for every row: every accepted message gets exactly one
outcome and none after Close returns; 0 lost; 0 out of order; 0 duplicated
with deduplication on (and without it, duplicates only of messages still in
flight at a fault); no failures except where the scenario provokes them.

`)
	b.WriteString(table)
	b.WriteString("\n## Scenarios\n\n")
	for _, sc := range scenarios() {
		fmt.Fprintf(&b, "- **%s**: %s.\n", sc.name, sc.what)
	}
	var missed []string
	for _, r := range results {
		for _, v := range r.violations {
			missed = append(missed, fmt.Sprintf("- %s/%s/dedup=%v: %s", r.scenario, r.lang, r.dedup, strings.ReplaceAll(v, "\n", " ")))
		}
	}
	b.WriteString(`
## Running it

` + "`make faults`" + ` runs this table (at least 100k messages a row) and rewrites this file;
` + "`make test`" + ` runs a short version (10k-20k messages, fewer repetitions, the C
producer with deduplication only) and prints it. ` + "`PP_FAULTS_RUN=regexp`" + ` selects
scenarios. The C producer (tests/faults/testdata/faults_producer.c) is built
with -Wall -Wextra -Werror under AddressSanitizer and UBSan; a sanitizer
report fails its row.

## Fuzzing

` + "`make fuzz`" + ` runs each fuzz target for FUZZTIME (60 s by default); ` + "`make test`" + `
runs each for a few seconds, and every ` + "`go test`" + ` runs their committed seeds
(testdata/fuzz). The targets: the engine's receive path (FuzzReceive), frame
parser (FuzzParseFrame), command decoders checked field by field against the
generated protobuf code (FuzzDecodeCommand), receipt decoder
(FuzzDecodeReceipt), options JSON and key/value parsers with a write-back
round trip (FuzzParseOptionsJSON, FuzzSetOption), service URL and topic
parsers (FuzzParseServiceURL, FuzzParseTopic), and the WASI module's message
metadata decoder (wasm/guest, FuzzDecodeMetadata). The decoders that read a
length prefix are held to an allocation bound that does not grow with what
the prefix claims (measured with runtime.MemStats), and
TestHostileLengthPrefixes sends prefixes up to 4 GiB through a connection.
`)
	b.WriteString("\n## Targets missed\n\n")
	if len(missed) == 0 {
		b.WriteString("None: every target was met.\n")
	} else {
		b.WriteString(strings.Join(missed, "\n") + "\n")
	}
	return b.String()
}

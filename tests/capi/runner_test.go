// Running the C test programs: their output protocol (tests/c/tap.h).
//
// How this works: runProgram starts a program built by build() with
// AddressSanitizer's leak checker on, reads its stdout line by line as it
// comes, and answers its "WAIT what" lines by running the hook named what
// (an admin call the program cannot make itself, such as growing a topic)
// and then writing a line to its stdin. Every "not ok" line fails the test;
// so does a non-zero exit, a sanitizer report, a hang past the timeout, or
// a missing "N passed, 0 failed" summary. The MSG lines (label and message
// ID) are returned for the read-back by another client.
package capi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type runOptions struct {
	args    []string
	env     []string                // extra environment variables
	hooks   map[string]func() error // answers WAIT lines
	onLine  func(line string)       // sees every other line
	timeout time.Duration           // default 5 minutes
}

// runProgram runs prog as opts say and returns its MSG lines.
func runProgram(t *testing.T, prog string, opts runOptions) []published {
	t.Helper()
	if opts.timeout == 0 {
		opts.timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, opts.args...)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS=print_stacktrace=1")
	cmd.Env = append(cmd.Env, opts.env...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	name := filepath.Base(prog)
	var out strings.Builder
	var msgs []published
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		switch {
		case strings.HasPrefix(line, "not ok"):
			t.Errorf("%s: %s", name, line)
		case strings.HasPrefix(line, "WAIT "):
			what := strings.TrimPrefix(line, "WAIT ")
			hook := opts.hooks[what]
			if hook == nil {
				t.Errorf("%s asks for %q, which this test does not do", name, what)
			} else if err := hook(); err != nil {
				t.Errorf("%s: doing %q: %v", name, what, err)
			}
			_, _ = io.WriteString(stdin, "done\n")
		case strings.HasPrefix(line, "MSG "):
			f := strings.Fields(line)
			if len(f) != 7 {
				t.Errorf("%s: malformed line %q", name, line)
				continue
			}
			p := published{payload: f[1]}
			for i := range 5 {
				if p.id[i], err = strconv.ParseInt(f[2+i], 10, 64); err != nil {
					t.Errorf("%s: malformed line %q", name, line)
				}
			}
			msgs = append(msgs, p)
		default:
			if opts.onLine != nil {
				opts.onLine(line)
			}
		}
	}
	_ = stdin.Close()
	err = cmd.Wait()
	text := out.String()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %v\nstdout tail:\n%s\nstderr:\n%s", name, opts.timeout, tail(text, 20), stderr.String())
	}
	if err != nil || strings.Contains(stderr.String(), "Sanitizer") || strings.Contains(stderr.String(), "runtime error") {
		t.Fatalf("%s: %v\nstdout tail:\n%s\nstderr:\n%s", name, err, tail(text, 20), stderr.String())
	}
	if !regexp.MustCompile(`(?m)^[1-9][0-9]* passed, 0 failed$`).MatchString(text) {
		t.Fatalf("%s: no passing summary line:\n%s", name, tail(text, 20))
	}
	return msgs
}

// lockedBuffer is a bytes.Buffer that the process's stderr copier and the
// test may use at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// byLabel indexes MSG lines by label, failing the test on a repeated one.
func byLabel(t *testing.T, msgs []published) map[string][5]int64 {
	t.Helper()
	m := make(map[string][5]int64, len(msgs))
	for _, p := range msgs {
		if _, dup := m[p.payload]; dup {
			t.Errorf("the program reported %q twice", p.payload)
		}
		m[p.payload] = p.id
	}
	return m
}

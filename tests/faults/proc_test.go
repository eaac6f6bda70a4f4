// A producer process under test: started with its options, its output
// parsed as it arrives, commands written to its stdin.
//
// How this works: a goroutine reads the process's stdout line by line (the
// format is documented in producer/main.go) into a record guarded by a
// mutex with a condition variable, so the harness can wait for progress
// ("30% acknowledged"), ask for a mark (the count of accepted messages at
// the moment of a fault, answered on stdout), and collect every outcome for
// the analysis once the process exits.
package faults

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// outcome is one A, D, F or R line.
type outcome struct {
	t             int64 // ms since the process started
	kind          byte  // 'A' acked, 'D' duplicate-acked, 'F' failed, 'R' refused (not accepted)
	i             int
	ledger, entry int64
	part, batch   int32
	code          int
}

// mark is the reply to "mark": messages accepted when the fault began.
type mark struct {
	t        int64 // program time
	accepted int
	wall     time.Time
}

// closeInfo is a CLOSE line.
type closeInfo struct {
	what    string
	ms      int64
	code    int
	pending int64
}

type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu         sync.Mutex
	cond       *sync.Cond
	ready      bool
	name       string
	partitions int
	outcomes   []outcome
	acked      int
	markCh     chan mark
	closes     []closeInfo
	late       []int
	mem        [][2]int64 // t, KiB
	done       bool
	doneSent   int
	stats      []int64 // sent acked failed reconnects p99us connects
	maxRSS     int64
	errors     []string
	exited     bool
	exitErr    error
	stderr     bytes.Buffer
	stdoutTail []string
}

// startProc starts argv with env added to the environment.
func startProc(ctx context.Context, argv []string, env []string) (*proc, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, markCh: make(chan mark, 16)}
	p.cond = sync.NewCond(&p.mu)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go p.read(stdout)
	return p, nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() < 1<<20 {
		l.w.Write(b)
	}
	return len(b), nil
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.line(sc.Text())
	}
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited, p.exitErr = true, err
	p.mu.Unlock()
	p.cond.Broadcast()
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func (p *proc) line(s string) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return
	}
	t := atoi(f[1])
	p.mu.Lock()
	defer func() {
		p.mu.Unlock()
		p.cond.Broadcast()
	}()
	switch {
	case f[0] == "A" && len(f) == 7:
		p.outcomes = append(p.outcomes, outcome{t: t, kind: 'A', i: int(atoi(f[2])), ledger: atoi(f[3]), entry: atoi(f[4]),
			part: int32(atoi(f[5])), batch: int32(atoi(f[6]))})
		p.acked++
	case f[0] == "D" && len(f) == 3:
		p.outcomes = append(p.outcomes, outcome{t: t, kind: 'D', i: int(atoi(f[2]))})
		p.acked++
	case (f[0] == "F" || f[0] == "R") && len(f) == 4:
		p.outcomes = append(p.outcomes, outcome{t: t, kind: f[0][0], i: int(atoi(f[2])), code: int(atoi(f[3]))})
	case f[0] == "READY" && len(f) == 4:
		p.ready, p.name, p.partitions = true, f[2], int(atoi(f[3]))
	case f[0] == "M" && len(f) == 3:
		m := mark{t: t, accepted: int(atoi(f[2])), wall: time.Now()}
		select {
		case p.markCh <- m:
		default:
		}
	case f[0] == "MEM" && len(f) == 3:
		p.mem = append(p.mem, [2]int64{t, atoi(f[2])})
	case f[0] == "DONE" && len(f) == 3:
		p.done, p.doneSent = true, int(atoi(f[2]))
	case f[0] == "CLOSE" && len(f) == 6:
		p.closes = append(p.closes, closeInfo{what: f[2], ms: atoi(f[3]), code: int(atoi(f[4])), pending: atoi(f[5])})
	case f[0] == "LATE" && len(f) == 3:
		p.late = append(p.late, int(atoi(f[2])))
	case f[0] == "STATS" && len(f) == 8:
		p.stats = nil
		for _, x := range f[2:] {
			p.stats = append(p.stats, atoi(x))
		}
	case f[0] == "EXIT" && len(f) == 3:
		p.maxRSS = atoi(f[2])
	case f[0] == "ERROR":
		p.errors = append(p.errors, s)
	default:
		p.stdoutTail = append(p.stdoutTail, s)
		if len(p.stdoutTail) > 20 {
			p.stdoutTail = p.stdoutTail[1:]
		}
	}
}

// waitFor waits until cond (called with p.mu held) holds, the process
// exits, or timeout passes; it reports whether cond held.
func (p *proc) waitFor(timeout time.Duration, cond func() bool) bool {
	timer := time.AfterFunc(timeout, p.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	for !cond() {
		if p.exited || time.Now().After(deadline) {
			return false
		}
		p.cond.Wait()
	}
	return true
}

// waitAcked waits until n messages are acknowledged.
func (p *proc) waitAcked(n int, timeout time.Duration) bool {
	return p.waitFor(timeout, func() bool { return p.acked >= n })
}

// send writes a command line to the process.
func (p *proc) send(cmd string) error {
	_, err := io.WriteString(p.stdin, cmd+"\n")
	return err
}

// mark asks the process how many messages it accepted so far.
func (p *proc) mark() (mark, error) {
	// Drop a stale reply, if any.
	select {
	case <-p.markCh:
	default:
	}
	if err := p.send("mark"); err != nil {
		return mark{}, err
	}
	select {
	case m := <-p.markCh:
		return m, nil
	case <-time.After(5 * time.Second):
		return mark{}, fmt.Errorf("no reply to mark within 5 s")
	}
}

// wait waits for the process to exit, killing it after timeout.
func (p *proc) wait(timeout time.Duration) error {
	if !p.waitFor(timeout, func() bool { return p.exited }) {
		p.cmd.Process.Kill()
		p.waitFor(10*time.Second, func() bool { return p.exited })
		return fmt.Errorf("the producer did not exit within %v; killed", timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// The official Python client (pulsar-client 3.13) as an independent
// reader: testdata/pyconsume.py, run from Go.
//
// How this works: the first use makes sure the virtualenv build/pyenv (the
// one tests/run.sh sets up for the Python suite) has the official client
// with its Avro support (pulsar-client[avro], which brings fastavro),
// creating and installing it if not, under a file lock so that concurrent
// test processes do not install at once. pyConsume runs the script on one
// topic and decodes the JSON lines it prints; pyDefinition asks it for the
// schema definition the Python client registers for one of its records.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

// pyRequirement is what the reader needs installed in build/pyenv.
const pyRequirement = "pulsar-client[avro]==3.13.*"

// pyMsg is one message as the Python client decoded it.
type pyMsg struct {
	Value         json.RawMessage `json:"value"`
	SchemaVersion int64           `json:"schemaVersion"`
	Key           *string         `json:"key"`
	MessageID     string          `json:"messageId"`
}

var pyEnv struct {
	once   sync.Once
	python string
	script string
	err    error
}

// repoRoot is the repository's top directory, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// pythonReader returns the venv's python and the script's path, setting
// the venv up first if needed.
func pythonReader(t *testing.T) (python, script string) {
	t.Helper()
	pyEnv.once.Do(func() {
		root := repoRoot()
		pyEnv.python = filepath.Join(root, "build", "pyenv", "bin", "python")
		_, file, _, _ := runtime.Caller(0)
		pyEnv.script = filepath.Join(filepath.Dir(file), "testdata", "pyconsume.py")
		pyEnv.err = ensurePyEnv(root, pyEnv.python)
	})
	if pyEnv.err != nil {
		t.Fatalf("the official Python client is not available: %v", pyEnv.err)
	}
	return pyEnv.python, pyEnv.script
}

func ensurePyEnv(root, python string) error {
	ready := func() bool {
		return exec.Command(python, "-c", "import pulsar, fastavro").Run() == nil
	}
	if ready() {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(root, "build"), 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(root, "build", "pyenv.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if ready() { // another process installed it meanwhile
		return nil
	}
	if _, err := os.Stat(python); err != nil {
		if out, err := exec.Command("python3", "-m", "venv", filepath.Join(root, "build", "pyenv")).CombinedOutput(); err != nil {
			return fmt.Errorf("python3 -m venv build/pyenv: %v\n%s", err, out)
		}
	}
	if out, err := exec.Command(python, "-m", "pip", "install", "-q", pyRequirement).CombinedOutput(); err != nil {
		return fmt.Errorf("pip install %s: %v\n%s", pyRequirement, err, out)
	}
	if !ready() {
		return fmt.Errorf("%s cannot import pulsar and fastavro after installing %s", python, pyRequirement)
	}
	return nil
}

// pyDefinition is the schema definition (JSON) that the Python client's
// JsonSchema or AvroSchema (kind "json" or "avro") registers for record.
func pyDefinition(t *testing.T, kind, record string) string {
	t.Helper()
	python, script := pythonReader(t)
	out, err := exec.Command(python, script, "definition", kind, record).Output()
	if err != nil {
		t.Fatalf("pyconsume definition %s %s: %v", kind, record, stderrOf(err))
	}
	return string(bytes.TrimSpace(out))
}

// pyConsume reads n messages of topic with the Python client, decoding
// them as mode says (see pyconsume.py), and fails the test if fewer come.
func pyConsume(t *testing.T, topic string, n int, mode string) []pyMsg {
	t.Helper()
	python, script := pythonReader(t)
	const timeout = 30 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, "consume", broker.ServiceURL(), topic,
		strconv.Itoa(n), strconv.Itoa(int(timeout.Seconds())), mode)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pyconsume %s %s: %v\nstderr:\n%s", topic, mode, err, stderr.String())
	}
	var msgs []pyMsg
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	done := false
	for sc.Scan() {
		line := sc.Bytes()
		var end struct {
			Done  bool `json:"done"`
			Count int  `json:"count"`
		}
		if json.Unmarshal(line, &end) == nil && end.Done {
			done = true
			break
		}
		var m pyMsg
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("pyconsume %s: bad line %q: %v", topic, line, err)
		}
		msgs = append(msgs, m)
	}
	if !done || len(msgs) != n {
		t.Fatalf("pyconsume %s %s: read %d of %d messages (finished: %v)\nstderr:\n%s", topic, mode, len(msgs), n, done, stderr.String())
	}
	return msgs
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Sprintf("%v\n%s", err, ee.Stderr)
	}
	return err.Error()
}

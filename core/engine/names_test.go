// Names, hashes and options: table-driven checks of the pure helpers.
package engine

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestParseServiceURL(t *testing.T) {
	good := map[string][]string{
		"pulsar://localhost:6650":        {"localhost:6650"},
		"pulsar://localhost":             {"localhost:6650"},
		"pulsar://127.0.0.1:6650/":       {"127.0.0.1:6650"},
		"pulsar://h1:1,h2:2":             {"h1:1", "h2:2"},
		"pulsar://[::1]:6650":            {"[::1]:6650"},
		"PULSAR://Broker-1.example:7000": {"Broker-1.example:7000"},
		"pulsar+ssl://h":                 {"h:6651"},
		"pulsar+ssl://h1:7001,h2":        {"h1:7001", "h2:6651"},
	}
	for in, want := range good {
		got, tls, err := ParseServiceURL(in)
		if err != nil || strings.Join(got, " ") != strings.Join(want, " ") || tls != strings.HasPrefix(in, "pulsar+ssl") {
			t.Errorf("ParseServiceURL(%q) = %v, %v, %v; want %v", in, got, tls, err, want)
		}
	}
	bad := map[string]string{
		"":                      "empty",
		"localhost:6650":        "expected pulsar://",
		"http://localhost:8080": "HTTP admin API",
		"pulsar://":             "no host",
		"pulsar://h:0":          "invalid port",
		"pulsar://h:99999":      "invalid port",
		"pulsar://h:abc":        "invalid port",
		"pulsar://h/path":       "only host:port",
		"pulsar://h1,,h2":       "empty host",
		"pulsar://bad host":     "only host:port",
		"pulsar://h!:1":         "invalid character",
		"pulsar://[::1":         "unclosed",
		"ftp://x":               "unknown scheme",
	}
	for in, text := range bad {
		_, err := parseServiceURL(in)
		if CodeOf(err) != CodeInvalidURL || !strings.Contains(err.Error(), text) {
			t.Errorf("parseServiceURL(%q) = %v; want InvalidUrl containing %q", in, err, text)
		}
	}
}

func TestParseTopic(t *testing.T) {
	good := map[string]topicName{
		"t":                                       {"persistent://public/default/t", -1},
		"tenant/ns/t":                             {"persistent://tenant/ns/t", -1},
		"non-persistent://a/b/c":                  {"non-persistent://a/b/c", -1},
		"persistent://a/b/c-partition-4":          {"persistent://a/b/c-partition-4", 4},
		"persistent://a/cluster/ns/legacy":        {"persistent://a/cluster/ns/legacy", -1},
		"persistent://a/b/c-partition-x":          {"persistent://a/b/c-partition-x", -1},
		"persistent://a/b/c-partition-4294967299": {"persistent://a/b/c-partition-4294967299", -1},
		"persistent://a/b/c-partition-2147483648": {"persistent://a/b/c-partition-2147483648", -1},
		"persistent://a/b/c-partition-2147483647": {"persistent://a/b/c-partition-2147483647", 2147483647},
	}
	for in, want := range good {
		got, err := parseTopic(in)
		if err != nil || got != want {
			t.Errorf("parseTopic(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for in, text := range map[string]string{"a\xffb": "not valid UTF-8", "a\x00b": "control character", "": "empty"} {
		if _, err := parseTopic(in); CodeOf(err) != CodeInvalidTopicName || !strings.Contains(err.Error(), text) {
			t.Errorf("parseTopic(%q) = %v; want %q", in, err, text)
		}
	}
}

// Vectors printed by the Java client's JavaStringHash and Murmur3Hash32
// (pulsar-client 4.0.8) for the UTF-8 strings below.
var hashVectors = []struct {
	b64          string
	java, murmur uint32
}{
	{"", 0, 0},
	{"YQ==", 97, 1009084850},
	{"a2V5", 106079, 1654417988},
	{"aGVsbG8gd29ybGQ=", 1794106052, 1586663183},
	{"a2V5LTEyMzQ1", 1154953029, 939117788},
	{"w6l0w6k=", 227742, 865297935},
	{"8J+YgGVtb2pp", 913791171, 1391726296},
	{"VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw==", 1538055507, 776992547},
	{"YWJjZA==", 2987074, 1139631978},
	{"YWJjZGU=", 92599395, 1755028214},
}

func TestHashesMatchJava(t *testing.T) {
	for _, v := range hashVectors {
		raw, _ := base64.StdEncoding.DecodeString(v.b64)
		s := string(raw)
		if got := javaStringHash(s); got != v.java {
			t.Errorf("javaStringHash(%q) = %d, Java says %d", s, got, v.java)
		}
		if got := murmur3Hash(s); got != v.murmur {
			t.Errorf("murmur3Hash(%q) = %d, Java says %d", s, got, v.murmur)
		}
	}
}

func TestRoundRobinWithBatchingSwitchesByTime(t *testing.T) {
	r := rng(1)
	o := ProducerOptions{BatchingMaxPublishDelay: 10 * time.Millisecond}
	rt := newRouter(&o, &r, 4)
	first, _ := rt.pick(&Message{}, 4, t0)
	same, _ := rt.pick(&Message{}, 4, t0.Add(5*time.Millisecond))
	next, _ := rt.pick(&Message{}, 4, t0.Add(10*time.Millisecond))
	if first != same || next != (first+1)%4 {
		t.Fatalf("picks %d %d %d", first, same, next)
	}
	single := newRouter(&ProducerOptions{RoutingMode: SinglePartition}, &r, 4)
	a, _ := single.pick(&Message{}, 4, t0)
	b, _ := single.pick(&Message{}, 4, t0.Add(time.Hour))
	if a != b {
		t.Fatal("single partition mode moved")
	}
	custom := newRouter(&ProducerOptions{Router: func(*Message, int) int { return 9 }}, &r, 4)
	if _, err := custom.pick(&Message{}, 4, t0); CodeOf(err) != CodeInvalidArgument {
		t.Fatalf("a router returning 9 of 4: %v", err)
	}
}

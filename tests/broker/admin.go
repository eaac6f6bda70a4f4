package broker

// Admin helpers over the broker's REST API (AdminURL()/admin/v2/...).
//
// How this works: every helper sends one plain HTTP request (JSON bodies,
// e.g. `true` or `3`) and fails the test with the method, URL, HTTP status and
// response body if the status is not 2xx. Topic names are full Pulsar names
// ("persistent://tenant/ns/name"); a bare "name" means
// persistent://public/default/name. Policies are applied asynchronously by
// the broker (topic policies travel through the namespace's __change_events
// system topic), so the Set* helpers poll the matching GET until it shows the
// new value, and WaitDeduplicationStatus polls the topic stats until the
// loaded topic reports the expected deduplication status.
//
// REST facts observed on Pulsar 4.0.8:
//   - GET .../<topic>/partitions answers 404 for a topic that does not exist
//     and {"partitions":0} for a non-partitioned one.
//   - GET .../<topic>/deduplicationEnabled answers 200 with an EMPTY body when
//     the topic-level policy is not set.
//   - GET .../<partitioned-topic>/stats answers 404; partitioned topics use
//     .../partitioned-stats and .../partitioned-internalStats.
//   - DELETE /namespaces/<ns>?force=true needs forceDeleteNamespaceAllowed=true
//     (broker.sh sets it), otherwise 405.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PolicyTimeout bounds how long the Set* helpers wait for a policy to show up.
var PolicyTimeout = 30 * time.Second

var httpClient = &http.Client{Timeout: 60 * time.Second}

// Do sends one admin request. path starts with "/admin/..."; body, if not
// nil, is sent as JSON. It returns the HTTP status and the response body.
func Do(method, path string, body any) (int, []byte, error) {
	return adminRequest(httpClient, method, AdminURL()+path, body, "")
}

// adminRequest sends one admin request to url with client (bounded by its
// timeout), body as JSON if not nil, and a bearer token if not empty. It
// returns the HTTP status and the response body. Do, the cluster's and the
// secured deployment's admin calls all go through it.
func adminRequest(client *http.Client, method, url string, body any, token string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Call is Do that fails the test unless the status is 2xx. It returns the
// response body.
func Call(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	status, b, err := Do(method, path, body)
	if err != nil {
		t.Fatalf("broker admin: %s %s%s: %v", method, AdminURL(), path, err)
	}
	if status < 200 || status > 299 {
		t.Fatalf("broker admin: %s %s%s: HTTP %d: %s", method, AdminURL(), path, status, strings.TrimSpace(string(b)))
	}
	return b
}

// CallJSON is Call that decodes a JSON object response.
func CallJSON(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	b := Call(t, method, path, body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("broker admin: %s %s%s: decoding %q: %v", method, AdminURL(), path, b, err)
	}
	return m
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// NewTopic returns a unique, not yet created topic name
// persistent://public/default/<prefix>-<random>.
func NewTopic(t testing.TB, prefix string) string {
	return NewTopicIn(t, "public/default", prefix)
}

// NewTopicIn is NewTopic in namespace ns ("tenant/namespace").
func NewTopicIn(t testing.TB, ns, prefix string) string {
	t.Helper()
	if prefix == "" {
		prefix = "t"
	}
	return "persistent://" + ns + "/" + prefix + "-" + randomSuffix()
}

// TopicPath turns a topic name into its REST path fragment, e.g.
// "persistent://public/default/x" -> "persistent/public/default/x".
func TopicPath(topic string) (string, error) {
	domain, rest, ok := strings.Cut(topic, "://")
	if !ok {
		domain, rest = "persistent", "public/default/"+topic
	}
	if domain != "persistent" && domain != "non-persistent" {
		return "", fmt.Errorf("topic %q: unknown domain %q", topic, domain)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("topic %q: want domain://tenant/namespace/name", topic)
	}
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return domain + "/" + strings.Join(parts, "/"), nil
}

func topicPath(t testing.TB, topic string) string {
	t.Helper()
	p, err := TopicPath(topic)
	if err != nil {
		t.Fatalf("broker admin: %v", err)
	}
	return "/admin/v2/" + p
}

func nsPath(t testing.TB, ns string) string {
	t.Helper()
	tenant, name, ok := strings.Cut(ns, "/")
	if !ok || tenant == "" || name == "" || strings.Contains(name, "/") {
		t.Fatalf("broker admin: namespace %q: want tenant/namespace", ns)
	}
	return "/admin/v2/namespaces/" + url.PathEscape(tenant) + "/" + url.PathEscape(name)
}

// CreatePartitionedTopic creates topic with the given number of partitions.
func CreatePartitionedTopic(t testing.TB, topic string, partitions int) {
	t.Helper()
	Call(t, http.MethodPut, topicPath(t, topic)+"/partitions", partitions)
}

// UpdatePartitions raises the partition count of a partitioned topic, as
// `pulsar-admin topics update-partitioned-topic` does.
func UpdatePartitions(t testing.TB, topic string, partitions int) {
	t.Helper()
	Call(t, http.MethodPost, topicPath(t, topic)+"/partitions", partitions)
}

// CreateNonPartitionedTopic creates a non-partitioned topic.
func CreateNonPartitionedTopic(t testing.TB, topic string) {
	t.Helper()
	Call(t, http.MethodPut, topicPath(t, topic), nil)
}

// Partitions returns the partition count of an existing topic: 0 for a
// non-partitioned topic. It fails the test if the topic does not exist.
func Partitions(t testing.TB, topic string) int {
	t.Helper()
	m := CallJSON(t, http.MethodGet, topicPath(t, topic)+"/partitions", nil)
	return int(Int64(m["partitions"]))
}

// DeleteTopic force-deletes a topic (all partitions of a partitioned topic),
// even with producers or subscriptions attached.
func DeleteTopic(t testing.TB, topic string) {
	t.Helper()
	if Partitions(t, topic) > 0 {
		Call(t, http.MethodDelete, topicPath(t, topic)+"/partitions?force=true", nil)
		return
	}
	Call(t, http.MethodDelete, topicPath(t, topic)+"?force=true", nil)
}

// UnloadTopic unloads a topic (all partitions of a partitioned topic): the
// broker closes it, disconnecting producers and consumers, which reconnect
// and reload it.
func UnloadTopic(t testing.TB, topic string) {
	t.Helper()
	Call(t, http.MethodPut, topicPath(t, topic)+"/unload", nil)
}

// CreateNamespace creates namespace ns ("tenant/namespace") and force-deletes
// it (with its topics) when the test ends.
func CreateNamespace(t testing.TB, ns string) {
	t.Helper()
	p := nsPath(t, ns)
	Call(t, http.MethodPut, p, nil)
	t.Cleanup(func() {
		status, b, err := Do(http.MethodDelete, p+"?force=true", nil)
		if err != nil || status < 200 || status > 299 {
			t.Logf("broker admin: cleanup: deleting namespace %s: HTTP %d: %v %s", ns, status, err, b)
		}
	})
}

// NewNamespace creates a unique namespace public/<prefix>-<random>, deleted
// when the test ends, and returns its name.
func NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	if prefix == "" {
		prefix = "ns"
	}
	ns := "public/" + prefix + "-" + randomSuffix()
	CreateNamespace(t, ns)
	return ns
}

// parseOptionalBool decodes a policy GET body: empty means "not set".
func parseOptionalBool(t testing.TB, what string, b []byte) *bool {
	t.Helper()
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		t.Fatalf("broker admin: %s: unexpected body %q", what, s)
	}
	return &v
}

// NamespaceDeduplication returns the namespace's deduplication policy, nil if
// it is not set.
func NamespaceDeduplication(t testing.TB, ns string) *bool {
	t.Helper()
	p := nsPath(t, ns) + "/deduplication"
	return parseOptionalBool(t, p, Call(t, http.MethodGet, p, nil))
}

// SetNamespaceDeduplication sets the namespace deduplication policy and waits
// until GET returns it. Topics already loaded pick it up asynchronously: use
// WaitDeduplicationStatus for that.
func SetNamespaceDeduplication(t testing.TB, ns string, enabled bool) {
	t.Helper()
	Call(t, http.MethodPost, nsPath(t, ns)+"/deduplication", enabled)
	WaitFor(t, PolicyTimeout, fmt.Sprintf("namespace %s deduplication=%v", ns, enabled), func() bool {
		v := NamespaceDeduplication(t, ns)
		return v != nil && *v == enabled
	})
}

// TopicDeduplication returns the topic-level deduplication policy, nil if it
// is not set.
func TopicDeduplication(t testing.TB, topic string) *bool {
	t.Helper()
	p := topicPath(t, topic) + "/deduplicationEnabled"
	return parseOptionalBool(t, p, Call(t, http.MethodGet, p, nil))
}

// SetTopicDeduplication sets the topic-level deduplication policy (the topic
// must exist) and waits until GET returns it. See WaitDeduplicationStatus to
// wait until the loaded topic applies it.
func SetTopicDeduplication(t testing.TB, topic string, enabled bool) {
	t.Helper()
	Call(t, http.MethodPost, topicPath(t, topic)+"/deduplicationEnabled", enabled)
	WaitTopicDeduplication(t, topic, &enabled)
}

// RemoveTopicDeduplication removes the topic-level deduplication policy and
// waits until GET shows it unset.
func RemoveTopicDeduplication(t testing.TB, topic string) {
	t.Helper()
	Call(t, http.MethodDelete, topicPath(t, topic)+"/deduplicationEnabled", nil)
	WaitTopicDeduplication(t, topic, nil)
}

// WaitTopicDeduplication waits until the topic-level deduplication policy
// reads back as want (nil = not set).
func WaitTopicDeduplication(t testing.TB, topic string, want *bool) {
	t.Helper()
	desc := "unset"
	if want != nil {
		desc = strconv.FormatBool(*want)
	}
	WaitFor(t, PolicyTimeout, fmt.Sprintf("topic %s deduplicationEnabled=%s", topic, desc), func() bool {
		v := TopicDeduplication(t, topic)
		if want == nil || v == nil {
			return want == nil && v == nil
		}
		return *v == *want
	})
}

// WaitDeduplicationStatus loads the topic (every partition of a partitioned
// topic) and waits until its stats report deduplicationStatus "Enabled"
// (enabled) or "Disabled".
func WaitDeduplicationStatus(t testing.TB, topic string, enabled bool) {
	t.Helper()
	want := "Disabled"
	if enabled {
		want = "Enabled"
	}
	deadline := time.Now().Add(PolicyTimeout)
	for {
		var got []string
		ok := true
		for _, p := range partitionNames(t, topic) {
			s, _ := GetStats(t, p)["deduplicationStatus"].(string)
			got = append(got, s)
			ok = ok && s == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker admin: timed out after %v waiting for topic %s deduplicationStatus=%s; last: %q", PolicyTimeout, topic, want, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// partitionNames lists topic itself, or its partitions if it is partitioned.
func partitionNames(t testing.TB, topic string) []string {
	t.Helper()
	n := Partitions(t, topic)
	if n == 0 {
		return []string{topic}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-partition-%d", topic, i)
	}
	return names
}

// GetStats returns the topic stats (GET .../stats) decoded from JSON, e.g.
// "msgInCounter", "publishers" (a list of objects with "producerName",
// "msgRateIn", ...), "subscriptions", "deduplicationStatus". For a
// partitioned topic it returns GET .../partitioned-stats?perPartition=true:
// the aggregate plus "partitions", a map from partition name to its stats.
func GetStats(t testing.TB, topic string) map[string]any {
	t.Helper()
	p := topicPath(t, topic)
	if Partitions(t, topic) > 0 {
		return CallJSON(t, http.MethodGet, p+"/partitioned-stats?perPartition=true", nil)
	}
	return CallJSON(t, http.MethodGet, p+"/stats", nil)
}

// GetInternalStats returns the managed-ledger level stats (GET
// .../internalStats), e.g. "entriesAddedCounter", "ledgers", "cursors". For a
// partitioned topic it returns GET .../partitioned-internalStats
// ({"metadata":..., "partitions": {name: internal stats}}).
func GetInternalStats(t testing.TB, topic string) map[string]any {
	t.Helper()
	p := topicPath(t, topic)
	if Partitions(t, topic) > 0 {
		return CallJSON(t, http.MethodGet, p+"/partitioned-internalStats", nil)
	}
	return CallJSON(t, http.MethodGet, p+"/internalStats", nil)
}

// Int64 converts a number decoded from JSON (float64 or json.Number) to
// int64; anything else gives 0.
func Int64(v any) int64 {
	switch n := v.(type) {
	case float64:
		return int64(n)
	case json.Number:
		i, _ := n.Int64()
		return i
	case int:
		return int64(n)
	case int64:
		return n
	}
	return 0
}

// WaitFor polls cond every 100 ms until it returns true, failing the test
// with what if timeout passes first.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("broker admin: timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

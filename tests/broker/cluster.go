package broker

// The two-broker cluster of cluster.sh, from Go: start and stop it, kill and
// restart a broker, and the admin calls the fault tests need (where a topic
// lives, moving its bundle, unloading it, namespaces with a policy).
//
// How this works: every port comes from `cluster.sh ports`, so the script
// stays the one place that defines them. Admin calls go to the first broker
// that answers (the other may be dead on purpose) and follow the broker's
// 307 redirects to the owner of a topic or bundle. Unlike admin.go, these
// helpers return errors instead of failing a test: the fault harness calls
// them while a fault is in progress and decides itself what a failure means.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClusterBroker is one broker of the cluster.
type ClusterBroker struct {
	N       int    // 1 or 2
	Addr    string // binary protocol, internal listener: 127.0.0.1:6750
	Web     string // admin base URL: http://127.0.0.1:8180
	ID      string // the broker's id in the cluster: 127.0.0.1:8180
	Proxied string // its external listener, where a fault proxy belongs: 127.0.0.1:6760
}

// Cluster is the cluster of cluster.sh.
type Cluster struct {
	Name    string
	Brokers [2]ClusterBroker
	RunDir  string
	http    *http.Client
}

// ClusterScript is the absolute path of cluster.sh.
func ClusterScript() string { return filepath.Join(filepath.Dir(Script()), "cluster.sh") }

// LoadCluster reads the cluster's ports from cluster.sh. It starts nothing.
func LoadCluster() (*Cluster, error) {
	out, err := exec.Command("bash", ClusterScript(), "ports").Output()
	if err != nil {
		return nil, fmt.Errorf("cluster.sh ports: %w", err)
	}
	v := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, val, ok := strings.Cut(sc.Text(), "="); ok {
			v[k] = val
		}
	}
	c := &Cluster{Name: v["CLUSTER_NAME"], RunDir: v["RUN_DIR"], http: &http.Client{Timeout: 30 * time.Second}}
	for i, n := range []string{"1", "2"} {
		web := "127.0.0.1:" + v["B"+n+"_WEB"]
		c.Brokers[i] = ClusterBroker{
			N: i + 1, Addr: "127.0.0.1:" + v["B"+n+"_PORT"], Web: "http://" + web, ID: web,
			Proxied: "127.0.0.1:" + v["B"+n+"_PROXY"],
		}
	}
	if c.Name == "" || c.Brokers[1].Addr == "127.0.0.1:" {
		return nil, fmt.Errorf("cluster.sh ports: unexpected output %q", out)
	}
	return c, nil
}

// script runs cluster.sh with args and returns its combined output.
func (c *Cluster) script(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", append([]string{ClusterScript()}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cluster.sh %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Ready reports whether both brokers are ready.
func (c *Cluster) Ready() bool {
	_, err := c.script(30*time.Second, "status")
	return err == nil
}

// Start starts the cluster (a no-op if it runs) and returns the script's
// output, which says how long it took.
func (c *Cluster) Start() (string, error) { return c.script(6*time.Minute, "start") }

// Stop stops the processes cluster.sh started.
func (c *Cluster) Stop() (string, error) { return c.script(2*time.Minute, "stop") }

// KillBroker kill -9s broker n.
func (c *Cluster) KillBroker(n int) error {
	_, err := c.script(30*time.Second, "kill-broker", strconv.Itoa(n))
	return err
}

// RestartBroker starts broker n again and waits until it is ready.
func (c *Cluster) RestartBroker(n int) error {
	_, err := c.script(4*time.Minute, "restart-broker", strconv.Itoa(n))
	return err
}

// BrokerUp reports whether broker n answers its admin API.
func (c *Cluster) BrokerUp(n int) bool {
	st, _, err := c.doOn(c.Brokers[n-1].Web, http.MethodGet, "/admin/v2/brokers/ready", nil)
	return err == nil && st == http.StatusOK
}

// ServiceURL lists both brokers' internal listeners (what an independent
// consumer uses, bypassing the proxies).
func (c *Cluster) ServiceURL() string {
	return "pulsar://" + c.Brokers[0].Addr + "," + c.Brokers[1].Addr
}

// ProxiedServiceURL lists both brokers' external listeners.
func (c *Cluster) ProxiedServiceURL() string {
	return "pulsar://" + c.Brokers[0].Proxied + "," + c.Brokers[1].Proxied
}

func (c *Cluster) doOn(base, method, path string, body any) (int, []byte, error) {
	return adminRequest(c.http, method, base+path, body, "")
}

// Admin sends one admin request to the first broker that answers (following
// redirects to the owner) and returns the body; a status other than 2xx is
// an error naming it.
func (c *Cluster) Admin(method, path string, body any) ([]byte, error) {
	var lastErr error
	for _, b := range c.Brokers {
		st, out, err := c.doOn(b.Web, method, path, body)
		if err != nil {
			lastErr = err
			continue // that broker is down: ask the other
		}
		if st < 200 || st > 299 {
			return out, fmt.Errorf("%s %s%s: HTTP %d: %s", method, b.Web, path, st, strings.TrimSpace(string(out)))
		}
		return out, nil
	}
	return nil, lastErr
}

// CreateNamespace creates ns ("tenant/name") with the given number of
// bundles, infinite retention (so the ledgers of a topic survive unloads
// and broker moves without a subscription), and deduplication on or off.
func (c *Cluster) CreateNamespace(ns string, bundles int, dedup bool) error {
	p := "/admin/v2/namespaces/" + ns
	if _, err := c.Admin(http.MethodPut, p, map[string]any{"bundles": map[string]any{"numBundles": bundles}}); err != nil {
		return err
	}
	if _, err := c.Admin(http.MethodPost, p+"/retention", map[string]any{"retentionTimeInMinutes": -1, "retentionSizeInMB": -1}); err != nil {
		return err
	}
	if _, err := c.Admin(http.MethodPost, p+"/deduplication", dedup); err != nil {
		return err
	}
	return nil
}

// DeleteNamespace force-deletes ns and its topics.
func (c *Cluster) DeleteNamespace(ns string) error {
	_, err := c.Admin(http.MethodDelete, "/admin/v2/namespaces/"+ns+"?force=true", nil)
	return err
}

// CreateTopic creates a topic, partitioned when partitions > 0.
func (c *Cluster) CreateTopic(topic string, partitions int) error {
	p, err := TopicPath(topic)
	if err != nil {
		return err
	}
	if partitions > 0 {
		_, err = c.Admin(http.MethodPut, "/admin/v2/"+p+"/partitions", partitions)
	} else {
		_, err = c.Admin(http.MethodPut, "/admin/v2/"+p, nil)
	}
	return err
}

// TopicStats returns the stats of a non-partitioned topic (or partition).
func (c *Cluster) TopicStats(topic string) (map[string]any, error) {
	p, err := TopicPath(topic)
	if err != nil {
		return nil, err
	}
	b, err := c.Admin(http.MethodGet, "/admin/v2/"+p+"/stats", nil)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// Owner returns which broker (1 or 2) serves topic (a non-partitioned topic
// or one partition), loading it if needed.
func (c *Cluster) Owner(topic string) (int, error) {
	p, err := TopicPath(topic)
	if err != nil {
		return 0, err
	}
	b, err := c.Admin(http.MethodGet, "/lookup/v2/topic/"+p, nil)
	if err != nil {
		return 0, err
	}
	var m struct{ BrokerURL string }
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, fmt.Errorf("lookup %s: %q: %w", topic, b, err)
	}
	for _, br := range c.Brokers {
		if strings.TrimPrefix(m.BrokerURL, "pulsar://") == br.Addr {
			return br.N, nil
		}
	}
	return 0, fmt.Errorf("lookup %s: unknown broker %q", topic, m.BrokerURL)
}

// Bundle returns the namespace and bundle range ("0x10000000_0x20000000")
// that topic belongs to.
func (c *Cluster) Bundle(topic string) (ns, bundle string, err error) {
	p, err := TopicPath(topic)
	if err != nil {
		return "", "", err
	}
	b, err := c.Admin(http.MethodGet, "/lookup/v2/topic/"+p+"/bundle", nil)
	if err != nil {
		return "", "", err
	}
	parts := strings.SplitN(p, "/", 4) // persistent/tenant/ns/name
	return parts[1] + "/" + parts[2], strings.Trim(strings.TrimSpace(string(b)), `"`), nil
}

// MoveTopic unloads topic's bundle and assigns it to broker `to`; it
// returns once a lookup of topic names that broker. A broker that is still
// settling (a bundle lock left by a moved or dead owner) makes the lookup
// fail or the move not take; both are retried for up to a minute.
func (c *Cluster) MoveTopic(topic string, to int) error {
	ns, bundle, err := c.Bundle(topic)
	if err != nil {
		return err
	}
	q := "?destinationBroker=" + url.QueryEscape(c.Brokers[to-1].ID)
	deadline := time.Now().Add(time.Minute)
	var lastErr error
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		if n, err := c.Owner(topic); err == nil && n == to && attempt > 0 {
			return nil
		}
		if _, err := c.Admin(http.MethodPut, "/admin/v2/namespaces/"+ns+"/"+bundle+"/unload"+q, nil); err != nil {
			lastErr = err
			time.Sleep(time.Second)
			continue
		}
		for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); {
			n, err := c.Owner(topic)
			if err == nil && n == to {
				return nil
			}
			lastErr = fmt.Errorf("on broker %d (%v)", n, err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	return fmt.Errorf("moving %s to broker %d: %v", topic, to, lastErr)
}

// UnloadTopic unloads topic: its broker closes it, and the next lookup
// loads it again (on either broker).
func (c *Cluster) UnloadTopic(topic string) error {
	p, err := TopicPath(topic)
	if err != nil {
		return err
	}
	_, err = c.Admin(http.MethodPut, "/admin/v2/"+p+"/unload", nil)
	return err
}

// Names: service URLs and topic names, parsed without the net package.
//
// A service URL is pulsar://host[:port][,host[:port]...], or pulsar+ssl://
// for TLS (default port 6651); the engine turns it into "host:port"
// addresses that the driver dials, with TLS when the URL says so. A topic is either
// fully qualified (persistent://tenant/namespace/topic), or short: "topic"
// means persistent://public/default/topic and "tenant/namespace/topic" adds
// the persistent:// domain, as in the Java client.
package engine

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	defaultBrokerPort    = "6650"
	defaultBrokerTLSPort = "6651"
)

// ParseServiceURL returns the broker addresses of a pulsar:// or
// pulsar+ssl:// URL, and whether it asks for TLS.
func ParseServiceURL(u string) (addrs []string, tls bool, err error) { return parseURLAddrs(u) }

// parseServiceURL returns the broker addresses of a service URL.
func parseServiceURL(u string) ([]string, error) {
	addrs, _, err := parseURLAddrs(u)
	return addrs, err
}

func parseURLAddrs(u string) ([]string, bool, error) {
	tls := false
	port := defaultBrokerPort
	bad := func(format string, args ...any) ([]string, bool, error) {
		return nil, false, Errorf(CodeInvalidURL, "service URL %q: "+format, append([]any{u}, args...)...)
	}
	if u == "" {
		return nil, false, Errorf(CodeInvalidURL, "service URL is empty; expected pulsar://host:port")
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return bad("expected pulsar://host:port")
	}
	switch strings.ToLower(scheme) {
	case "pulsar":
	case "pulsar+ssl":
		tls, port = true, defaultBrokerTLSPort
	case "http", "https":
		return bad("scheme %q is the HTTP admin API; use pulsar:// or pulsar+ssl:// and the broker's binary port", scheme)
	default:
		return bad("unknown scheme %q; expected pulsar:// or pulsar+ssl://", scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return bad("no host")
	}
	if strings.ContainsAny(rest, "/?#@ \t") {
		return bad("only host:port pairs may follow pulsar://")
	}
	var addrs []string
	for _, hp := range strings.Split(rest, ",") {
		addr, err := normalizeHostPort(hp, port)
		if err != "" {
			return bad("%s", err)
		}
		addrs = append(addrs, addr)
	}
	return addrs, tls, nil
}

// brokerAddress turns a lookup's broker URL into an address.
func brokerAddress(u string) (string, error) {
	addrs, err := parseServiceURL(u)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// normalizeHostPort checks one host[:port] and adds the default port. It
// returns the problem as text, or "".
func normalizeHostPort(hp, defaultPort string) (string, string) {
	if hp == "" {
		return "", "empty host"
	}
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", "unclosed [ in host " + strconv.Quote(hp)
		}
		host = hp[:end+1]
		switch after := hp[end+1:]; {
		case after == "":
		case after[0] == ':':
			port = after[1:]
		default:
			return "", "unexpected text after ] in " + strconv.Quote(hp)
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
	}
	if host == "" || host == "[]" {
		return "", "empty host in " + strconv.Quote(hp)
	}
	for _, r := range strings.Trim(host, "[]") {
		if !(r == '.' || r == '-' || r == '_' || r == ':' || r == '%' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", "invalid character " + strconv.QuoteRune(r) + " in host " + strconv.Quote(host)
		}
	}
	if port == "" {
		port = defaultPort
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", "invalid port " + strconv.Quote(port)
	}
	return host + ":" + strconv.Itoa(n), ""
}

// topicName is a parsed, fully qualified topic.
type topicName struct {
	full      string // persistent://tenant/ns/local
	partition int32  // index when the name is a partition, else -1
}

const partitionSuffix = "-partition-"

// parseTopic validates a topic name and completes the short forms.
func parseTopic(t string) (topicName, error) {
	bad := func(format string, args ...any) (topicName, error) {
		return topicName{}, Errorf(CodeInvalidTopicName, "topic %q: "+format, append([]any{t}, args...)...)
	}
	if t == "" {
		return topicName{}, Errorf(CodeInvalidTopicName, "topic name is empty")
	}
	if !utf8.ValidString(t) {
		return bad("is not valid UTF-8")
	}
	for _, r := range t {
		if r < 0x20 || r == 0x7f || r == ' ' {
			return bad("contains a space or control character")
		}
	}
	domain, rest, ok := strings.Cut(t, "://")
	if !ok {
		domain, rest = "persistent", t
		switch strings.Count(t, "/") {
		case 0:
			rest = "public/default/" + t
		case 2:
		default:
			return bad("a short name is either topic or tenant/namespace/topic")
		}
	} else if domain != "persistent" && domain != "non-persistent" {
		return bad("domain %q is neither persistent nor non-persistent", domain)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 && len(parts) != 4 { // 4: the legacy tenant/cluster/namespace/topic form
		return bad("expected %s://tenant/namespace/topic", domain)
	}
	for _, p := range parts {
		if p == "" {
			return bad("has an empty tenant, namespace or topic part")
		}
	}
	tn := topicName{full: domain + "://" + rest, partition: -1}
	local := parts[len(parts)-1]
	if i := strings.LastIndex(local, partitionSuffix); i >= 0 {
		// An index that is no int32 makes no partition, as in the Java
		// client (Integer.parseInt fails): the name is a plain topic's.
		if n, err := strconv.ParseInt(local[i+len(partitionSuffix):], 10, 32); err == nil && n >= 0 {
			tn.partition = int32(n)
		}
	}
	return tn, nil
}

// partitionTopic names partition i of a partitioned topic.
func partitionTopic(full string, i int) string {
	return full + partitionSuffix + strconv.Itoa(i)
}

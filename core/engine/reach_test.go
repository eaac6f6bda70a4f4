// Reaching secured clusters: credentials in CONNECT, challenges answered
// without dropping the connection, TLS broker URLs from lookups, the
// Pulsar proxy, and ports that speak TLS or HTTP when we do not.
package engine

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pulsar-producer/pulsar-producer/internal/pb"
)

func TestCredentialsAndChallenges(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.SetCredentials("token", []byte("first"))
	p, err := h.e.CreateProducer(ProducerOptions{Topic: "t", SendTimeout: time.Hour}, h.now)
	if err != nil {
		t.Fatal(err)
	}
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	conn := ev.Conn
	c := h.expect(conn, pb.BaseCommand_CONNECT).cmd.GetConnect()
	if c.GetAuthMethodName() != "token" || string(c.GetAuthData()) != "first" {
		t.Fatalf("CONNECT carries %q %q", c.GetAuthMethodName(), c.GetAuthData())
	}
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{ServerVersion: proto.String("b"), ProtocolVersion: proto.Int32(21)}})
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "p", -1)
	h.expectEvent(EventProducerReady)
	h.send(p, &Message{Payload: []byte("a")}, 1)
	h.e.Flush(p, h.now)
	s := h.expect(conn, pb.BaseCommand_SEND)
	// The broker's copy of the token expired: it challenges.
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_AUTH_CHALLENGE.Enum(), AuthChallenge: &pb.CommandAuthChallenge{
		Challenge: &pb.AuthData{AuthMethodName: proto.String("token"), AuthData: []byte("refresh")}}})
	ch := h.expectEvent(EventAuthChallenge)
	if ch.Conn != conn {
		t.Fatalf("challenge on conn %d", ch.Conn)
	}
	h.quiet(conn) // nothing until the driver answers
	h.e.AnswerChallenge(conn, "token", []byte("second"), h.now)
	r := h.expect(conn, pb.BaseCommand_AUTH_RESPONSE).cmd.GetAuthResponse().GetResponse()
	if r.GetAuthMethodName() != "token" || string(r.GetAuthData()) != "second" {
		t.Fatalf("AUTH_RESPONSE carries %q %q", r.GetAuthMethodName(), r.GetAuthData())
	}
	// The connection and the pending message carry on.
	h.receipt(conn, s, 1, 1)
	if got := h.expectEvent(EventReceipt); got.Tokens[0] != 1 {
		t.Fatalf("receipt %+v", got)
	}
	for _, l := range h.logs {
		if strings.Contains(l.Msg, "first") || strings.Contains(l.Msg, "second") {
			t.Fatalf("a credential in a log record: %q", l.Msg)
		}
	}
	// A new connection carries the fresh credentials.
	h.e.ConnClosed(conn, nil, h.now)
	h.advance(time.Second)
	ev = h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	if c := h.expect(ev.Conn, pb.BaseCommand_CONNECT).cmd.GetConnect(); string(c.GetAuthData()) != "second" {
		t.Fatalf("reconnect carries %q", c.GetAuthData())
	}
}

func TestAuthenticationErrorIsNotRetried(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.SetCredentials("token", []byte("bad"))
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.reply(ev.Conn, &pb.BaseCommand{Type: pb.BaseCommand_ERROR.Enum(), Error: &pb.CommandError{
		RequestId: proto.Uint64(0), Error: pb.ServerError_AuthenticationError.Enum(), Message: proto.String("Failed to authentication token")}})
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeAuthenticationError || !strings.Contains(fail.Err.Error(), `method "token"`) || strings.Contains(fail.Err.Error(), "bad") {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestTLSLookupsAndTheProxy(t *testing.T) {
	h := newHarness(t, ClientOptions{ServiceURL: "pulsar+ssl://proxy:6651"})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	ev := h.expectEvent(EventConnect)
	if ev.Text != "proxy:6651" {
		t.Fatalf("dialed %q", ev.Text)
	}
	h.events = append(h.events, ev)
	svc := h.connect()
	h.answerMetadata(svc, 0)
	req := h.expect(svc, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
	h.reply(svc, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
		RequestId: req.RequestId, Response: pb.CommandLookupTopicResponse_Connect.Enum(), BrokerServiceUrl: proto.String("pulsar://broker-1:6650"),
		BrokerServiceUrlTls: proto.String("pulsar+ssl://broker-1:6651"), ProxyThroughServiceUrl: proto.Bool(true)}})
	// Through the proxy: a new connection to the proxy, forwarding to the
	// broker's TLS address.
	ev = h.expectEvent(EventConnect)
	if ev.Text != "proxy:6651" || ev.Conn == svc {
		t.Fatalf("dialed %q (conn %d)", ev.Text, ev.Conn)
	}
	h.e.ConnOpened(ev.Conn, h.now)
	if c := h.expect(ev.Conn, pb.BaseCommand_CONNECT).cmd.GetConnect(); c.GetProxyToBrokerUrl() != "broker-1:6651" {
		t.Fatalf("proxy_to_broker_url %q", c.GetProxyToBrokerUrl())
	}
	h.reply(ev.Conn, &pb.BaseCommand{Type: pb.BaseCommand_CONNECTED.Enum(), Connected: &pb.CommandConnected{ServerVersion: proto.String("b"), ProtocolVersion: proto.Int32(21)}})
	h.answerProducer(ev.Conn, "p", -1)
	h.expectEvent(EventProducerReady)

	// A TLS client whose broker names no TLS URL gets a clear error.
	h2 := newHarness(t, ClientOptions{ServiceURL: "pulsar+ssl://b:6651"})
	h2.e.CreateProducer(ProducerOptions{Topic: "t"}, h2.now)
	c2 := h2.connect()
	h2.answerMetadata(c2, 0)
	h2.answerLookup(c2, "pulsar://b:6650")
	if fail := h2.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeLookupError || !strings.Contains(fail.Err.Error(), "no TLS URL") {
		t.Fatalf("failure %v", fail.Err)
	}
}

func TestTLSPortIsNamed(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.feed(ev.Conn, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32}) // a TLS alert
	fail := h.expectEvent(EventProducerFailed)
	if CodeOf(fail.Err) != CodeConnectError || !strings.Contains(fail.Err.Error(), "pulsar+ssl://") {
		t.Fatalf("failure %v", fail.Err)
	}
}

// TestLateGrantOfACancelledProducerIsUndone: a waitForExclusive producer
// that gave up (createTimeout) and is granted the topic afterwards is
// unregistered at once, so that it does not hold the topic.
func TestLateGrantOfACancelledProducerIsUndone(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t", AccessMode: AccessWaitForExclusive, CreateTimeout: time.Second}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.answerLookup(conn, "pulsar://broker:6650")
	req := h.expect(conn, pb.BaseCommand_PRODUCER).cmd.GetProducer()
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), ProducerReady: proto.Bool(false)}})
	h.advance(time.Second)
	h.expectEvent(EventProducerFailed)
	h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER)
	// The broker had not seen the close yet: it grants the topic.
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_PRODUCER_SUCCESS.Enum(), ProducerSuccess: &pb.CommandProducerSuccess{
		RequestId: req.RequestId, ProducerName: proto.String("p"), ProducerReady: proto.Bool(true)}})
	if c := h.expect(conn, pb.BaseCommand_CLOSE_PRODUCER).cmd.GetCloseProducer(); c.GetProducerId() != req.GetProducerId() {
		t.Fatalf("closed producer %d, want %d", c.GetProducerId(), req.GetProducerId())
	}
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventProducerReady {
			t.Fatal("a producer that gave up became ready")
		}
	}
}

// TestAProxyThatIsTheBrokerIsNoProxy: a lookup that says "through the
// service URL" and names the service URL's own broker reuses the direct
// connection.
func TestAProxyThatIsTheBrokerIsNoProxy(t *testing.T) {
	h := newHarness(t, ClientOptions{ServiceURL: "pulsar://broker:6650"})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	svc := h.connect()
	h.answerMetadata(svc, 0)
	req := h.expect(svc, pb.BaseCommand_LOOKUP).cmd.GetLookupTopic()
	h.reply(svc, &pb.BaseCommand{Type: pb.BaseCommand_LOOKUP_RESPONSE.Enum(), LookupTopicResponse: &pb.CommandLookupTopicResponse{
		RequestId: req.RequestId, Response: pb.CommandLookupTopicResponse_Connect.Enum(), BrokerServiceUrl: proto.String("pulsar://broker:6650"),
		ProxyThroughServiceUrl: proto.Bool(true)}})
	h.answerProducer(svc, "p", -1)
	h.expectEvent(EventProducerReady)
	for _, ev := range h.takeEvents() {
		if ev.Kind == EventConnect {
			t.Fatal("a second connection to the same broker")
		}
	}
}

func TestClosedBeforeConnectedSuggestsTLS(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t"}, h.now)
	ev := h.expectEvent(EventConnect)
	h.e.ConnOpened(ev.Conn, h.now)
	h.expect(ev.Conn, pb.BaseCommand_CONNECT)
	h.e.ConnClosed(ev.Conn, nil, h.now)
	if fail := h.expectEvent(EventProducerFailed); CodeOf(fail.Err) != CodeConnectError || !strings.Contains(fail.Err.Error(), "pulsar+ssl://") {
		t.Fatalf("failure %v", fail.Err)
	}
}

// TestStartupDelayAndJitter: the first lookup waits startupDelay plus up
// to startupJitter, spread evenly over 200 producers, and a
// re-registration after the broker closed the producer waits again.
func TestStartupDelayAndJitter(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	delay, jitter := 2*time.Second, time.Second
	conn := ConnID(0)
	var waits []time.Duration
	for i := range 200 {
		id, err := h.e.CreateProducer(ProducerOptions{Topic: "t" + itoa(int64(i)), StartupDelay: delay, StartupJitter: jitter}, h.now)
		if err != nil {
			t.Fatal(err)
		}
		_ = id
	}
	if conn == 0 {
		conn = h.connect()
	}
	// Metadata first (not delayed), then each partition waits.
	for range 200 {
		h.answerMetadata(conn, 0)
	}
	h.quiet(conn)
	start := h.now
	for step := time.Duration(0); step <= delay+jitter; step += 10 * time.Millisecond {
		h.advance(10 * time.Millisecond)
		for {
			h.drain()
			if len(h.inbox[conn]) == 0 {
				break
			}
			h.expect(conn, pb.BaseCommand_LOOKUP)
			waits = append(waits, h.now.Sub(start))
		}
	}
	if len(waits) != 200 {
		t.Fatalf("%d lookups after delay plus jitter, want 200", len(waits))
	}
	buckets := make([]int, 10)
	for _, w := range waits {
		if w < delay || w > delay+jitter+10*time.Millisecond {
			t.Fatalf("a lookup after %v, outside [%v, %v]", w, delay, delay+jitter)
		}
		buckets[min(9, int((w-delay)*10/jitter))]++
	}
	for i, n := range buckets {
		if n < 5 || n > 40 { // 20 expected in each tenth of the jitter
			t.Fatalf("tenth %d of the jitter got %d of 200 lookups: not spread (%v)", i, n, buckets)
		}
	}
}

func TestStartupDelayBeforeReRegistration(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	h.e.CreateProducer(ProducerOptions{Topic: "t", StartupDelay: time.Second}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.advance(999 * time.Millisecond)
	h.quiet(conn)
	h.advance(time.Millisecond)
	h.answerLookup(conn, "pulsar://broker:6650")
	h.answerProducer(conn, "p", -1)
	h.expectEvent(EventProducerReady)
	h.reply(conn, &pb.BaseCommand{Type: pb.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &pb.CommandCloseProducer{ProducerId: proto.Uint64(1), RequestId: proto.Uint64(0)}})
	h.advance(999 * time.Millisecond)
	h.quiet(conn)
	h.advance(time.Millisecond)
	h.expect(conn, pb.BaseCommand_LOOKUP)
}

// TestStartupWaitIsCancellable: the startup wait ends with the create
// timeout, and with a close, and sends nothing.
func TestStartupWaitIsCancellable(t *testing.T) {
	h := newHarness(t, ClientOptions{})
	id, _ := h.e.CreateProducer(ProducerOptions{Topic: "t", StartupDelay: time.Minute, CreateTimeout: time.Second}, h.now)
	conn := h.connect()
	h.answerMetadata(conn, 0)
	h.advance(time.Second)
	if fail := h.expectEvent(EventProducerFailed); fail.Producer != id || CodeOf(fail.Err) != CodeTimeout {
		t.Fatalf("failure %v", fail.Err)
	}
	h.quiet(conn)

	id2, _ := h.e.CreateProducer(ProducerOptions{Topic: "t2", StartupDelay: time.Minute}, h.now)
	h.answerMetadata(conn, 0)
	if err := h.e.CloseProducer(id2, h.now); err != nil {
		t.Fatal(err)
	}
	if fail := h.expectEvent(EventProducerFailed); fail.Producer != id2 || CodeOf(fail.Err) != CodeAlreadyClosed {
		t.Fatalf("close during the wait: %v", fail.Err)
	}
	h.advance(time.Minute)
	pong(h, conn)
	h.quiet(conn)
}

func TestNegativeStartupWaitRefused(t *testing.T) {
	for _, o := range []ProducerOptions{{Topic: "t", StartupDelay: -time.Second}, {Topic: "t", StartupJitter: -time.Millisecond}} {
		if _, err := ResolveProducerOptions(o); err == nil || CodeOf(err) != CodeInvalidConfiguration || !strings.Contains(err.Error(), "startup") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if err := ParseOptionsJSON([]byte(`{"startupJitter":-5}`), nil, &ProducerOptions{}); err == nil || !strings.Contains(err.Error(), "startupJitter") {
		t.Errorf("JSON: %v", err)
	}
}

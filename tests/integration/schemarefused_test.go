// Schemas the broker refuses: a producer whose schema is incompatible with
// the topic's fails at once with CodeIncompatibleSchema and the broker's
// own words, without retrying; a namespace with schemaValidationEnforced
// takes our schema producer and refuses one without a schema.
//
// How this works: the topic's AVRO schema is registered with the admin
// API (POST /admin/v2/schemas/<topic>/schema) before any producer; the
// namespace policy is set with POST .../schemaValidationEnforced. Retries
// would show as the producer's "reconnects" log records (captured with a
// recording slog handler) and as time: the creation context allows 30 s.
package integration

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/tests/broker"
)

// newLoggedClient is newClient with the client's log records kept.
func newLoggedClient(t *testing.T) (*core.Client, *recordHandler) {
	t.Helper()
	broker.Require(t)
	h := &recordHandler{}
	c, err := core.NewClient(core.ClientOptions{ServiceURL: broker.ServiceURL(), LogLevel: core.LogDebug, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, h
}

// retryRecords are the log records that tell of a producer trying again.
func retryRecords(h *recordHandler) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if strings.Contains(r.Message, "reconnects") || strings.Contains(r.Message, "trying again") {
			out = append(out, r.Message)
		}
	}
	return out
}

// createRefused creates a producer that the broker must refuse with
// CodeIncompatibleSchema, at once and once, and returns the error.
func createRefused(t *testing.T, c *core.Client, h *recordHandler, opts core.ProducerOptions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	p, err := c.CreateProducer(ctx, opts)
	took := time.Since(start)
	if err == nil {
		p.Close(context.Background())
		t.Fatalf("the broker accepted a producer with schema %+v on %s", opts.Schema, opts.Topic)
	}
	if core.CodeOf(err) != core.CodeIncompatibleSchema {
		t.Fatalf("creation failed with %v (code %v), want IncompatibleSchema", err, core.CodeOf(err))
	}
	var e *core.Error
	if !errors.As(err, &e) || e.Kind() != core.KindBroker {
		t.Errorf("the error %v is not a broker's *core.Error", err)
	}
	if took > 10*time.Second {
		t.Errorf("the refusal took %v: retried?", took)
	}
	if r := retryRecords(h); len(r) > 0 {
		t.Errorf("the producer retried after the refusal: %q", r)
	}
	return err
}

func TestIncompatibleSchemaRefusedOnce(t *testing.T) {
	c, h := newLoggedClient(t)
	topic := broker.NewTopic(t, "schema-incompatible")
	avroDef := pyDefinition(t, "avro", "Reading")
	broker.Call(t, http.MethodPost, schemaPath(t, topic)+"/schema",
		map[string]any{"type": "AVRO", "schema": avroDef, "properties": map[string]string{}})

	err := createRefused(t, c, h, core.ProducerOptions{Topic: topic, Schema: &core.Schema{Type: core.SchemaString}})
	// The broker's text names both types; ours passes it on.
	for _, want := range []string{"IncompatibleSchema", "AVRO", "STRING"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %s", err, want)
		}
	}
	t.Logf("refused: %v", err)
	if reg := registrySchema(t, topic); reg["type"] != "AVRO" || broker.Int64(reg["version"]) != 0 {
		t.Errorf("the refused producer changed the registry: %v", reg)
	}

	// The same topic takes our producer with the registered schema.
	p := newProducer(t, c, core.ProducerOptions{Topic: topic, Schema: &core.Schema{Type: core.SchemaAvro, Definition: avroDef}})
	var schema any
	if err := json.Unmarshal([]byte(avroDef), &schema); err != nil {
		t.Fatal(err)
	}
	rec := map[string]any{"name": "after refusal", "count": int64(1), "ratio": 0.5, "ok": true, "tags": []any{}, "attrs": map[string]any{}}
	b, aerr := avroEncode(schema, rec)
	if aerr != nil {
		t.Fatal(aerr)
	}
	if _, err := p.Send(context.Background(), &core.Message{Value: b}); err != nil {
		t.Fatal(err)
	}
	got := pyConsume(t, topic, 1, "avro:Reading")
	if !jsonEqual(got[0].Value, rec) {
		t.Errorf("the Python client read %s, we sent %v", got[0].Value, rec)
	}
}

func TestSchemaValidationEnforced(t *testing.T) {
	c, h := newLoggedClient(t)
	ns := broker.NewNamespace(t, "schema-enforced")
	broker.Call(t, http.MethodPost, "/admin/v2/namespaces/"+ns+"/schemaValidationEnforced", true)
	broker.WaitFor(t, broker.PolicyTimeout, "schemaValidationEnforced", func() bool {
		return strings.TrimSpace(string(broker.Call(t, http.MethodGet, "/admin/v2/namespaces/"+ns+"/schemaValidationEnforced", nil))) == "true"
	})
	topic := broker.NewTopicIn(t, ns, "enforced")

	p := newProducer(t, c, core.ProducerOptions{Topic: topic, Schema: &core.Schema{Type: core.SchemaString}})
	if _, err := p.Send(context.Background(), &core.Message{Value: "typed"}); err != nil {
		t.Fatal(err)
	}
	err := createRefused(t, c, h, core.ProducerOptions{Topic: topic})
	t.Logf("refused: %v", err)
	if !strings.Contains(err.Error(), "without a schema") && !strings.Contains(strings.ToLower(err.Error()), "schema validation enforced") {
		t.Errorf("the error %q does not say the producer lacks a schema", err)
	}
	if got := pyConsume(t, topic, 1, "string"); string(got[0].Value) != `"typed"` {
		t.Errorf("the Python client read %s", got[0].Value)
	}
}

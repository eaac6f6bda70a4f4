package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseOptionsJSON(t *testing.T) {
	var c ClientOptions
	var p ProducerOptions
	err := ParseOptionsJSON([]byte(`{"batchingMaxMessages": 50, "sendTimeout": -1, "compressionType": "LZ4",
		"blockIfQueueFull": true, "properties": {"a": "b"}, "connectionTimeout": 1500, "initialSequenceId": 9,
		"accessMode": "exclusive", "producerName": "me", "logLevel": "debug", "createTimeout": 0}`), &c, &p)
	if err != nil {
		t.Fatal(err)
	}
	if p.BatchingMaxMessages != 50 || p.SendTimeout != -time.Millisecond || p.CompressionType != CompressionLZ4 ||
		!p.BlockIfQueueFull || p.Properties["a"] != "b" || c.ConnectionTimeout != 1500*time.Millisecond ||
		*p.InitialSequenceID != 9 || p.AccessMode != AccessExclusive || p.ProducerName != "me" || c.LogLevel != LogDebug {
		t.Fatalf("parsed %+v %+v", c, p)
	}
	bad := map[string]string{
		`{"batchingMaxMessage": 1}`:                            `option "batchingMaxMessage" is unknown`,
		`{"batching_max_messages": 1}`:                         `did you mean "batchingMaxMessages"?`,
		`{"batchingMaxMessages": "many"}`:                      `must be an integer, got string "many"`,
		`{"batchingMaxMessages": 1.5}`:                         `must be an integer, got number 1.5`,
		`{"batchingMaxMessages": 0}`:                           `option batchingMaxMessages: must be between 1 and 1048576, got 0`,
		`{"batchingMaxMessages": -1}`:                          `option batchingMaxMessages: must be between 1 and 1048576, got -1`,
		`{"batchingMaxMessages": 99999999999999999999}`:        `"batchingMaxMessages" is out of range: must be between 1 and 1048576, got 99999999999999999999`,
		`{"batchingMaxMessages": null}`:                        `must be an integer, got null`,
		`{"keepAliveInterval": 1}`:                             `option keepAliveInterval: must be at least 1000 ms, got 1`,
		`{"memoryLimitBytes": 0}`:                              `must be at least 1, or negative for no limit, got 0`,
		`{"sendTimeout": 0}`:                                   `must be at least 1 ms, or negative for disabled, got 0`,
		`{"initialSequenceId": -2}`:                            `must be at least -1, got -2`,
		`{"blockIfQueueFull": "yes"}`:                          `must be true or false`,
		`{"compressionType": "gzip"}`:                          `must be one of none, lz4, zlib, zstd, snappy`,
		`{"properties": {"a": 1}}`:                             `the value of "a" must be a string`,
		`{"properties": {"a": "1", "a": "2"}}`:                 `option "properties": key "a" is given twice`,
		`{"properties": []}`:                                   `must be an object of strings`,
		`{"sendTimeout": 1e30}`:                                `must be an integer`,
		`{"batchingMaxMessages": 5, "batchingMaxMessages": 6}`: `option "batchingMaxMessages" is given twice`,
		`[1, 2]`:  `must be a JSON object, not an array`,
		`{"a": 1`: `not a valid JSON object`,
		`null`:    `not null`,
		`{} {}`:   `more than one JSON value`,
	}
	for in, text := range bad {
		err := ParseOptionsJSON([]byte(in), &c, &p)
		if CodeOf(err) != CodeInvalidConfiguration || !strings.Contains(err.Error(), text) {
			t.Errorf("ParseOptionsJSON(%s) = %v; want %q", in, err, text)
		}
	}
	if err := ParseOptionsJSON(nil, &c, &p); err != nil {
		t.Fatal(err)
	}
}

func TestParseOptionsJSONScopes(t *testing.T) {
	var c ClientOptions
	var p ProducerOptions
	if err := ParseOptionsJSON([]byte(`{"batchingMaxMessages": 5}`), &c, nil); err == nil ||
		!strings.Contains(err.Error(), `option "batchingMaxMessages" is a producer option; it does not belong in the client options`) {
		t.Fatalf("producer option among client options: %v", err)
	}
	if err := ParseOptionsJSON([]byte(`{"memoryLimitBytes": 5}`), nil, &p); err == nil ||
		!strings.Contains(err.Error(), `option "memoryLimitBytes" is a client option; it does not belong in the producer options`) {
		t.Fatalf("client option among producer options: %v", err)
	}
	if err := SetOption("memoryLimitBytes", "5", nil, &p); err == nil || !strings.Contains(err.Error(), "is a client option") {
		t.Fatalf("SetOption across scopes: %v", err)
	}
}

func TestSetOption(t *testing.T) {
	var c ClientOptions
	var p ProducerOptions
	for k, v := range map[string]string{"batchingMaxMessages": " 7 ", "disableBatching": "true", "properties": `{"x":"y"}`, "routingMode": "singlePartition", "logLevel": "INFO"} {
		if err := SetOption(k, v, &c, &p); err != nil {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
	}
	if p.BatchingMaxMessages != 7 || !p.DisableBatching || p.Properties["x"] != "y" || p.RoutingMode != SinglePartition || c.LogLevel != LogInfo {
		t.Fatalf("%+v", p)
	}
	for _, tc := range []struct{ k, v, want string }{
		{"nope", "1", `"nope" is unknown`},
		{"batchingMaxMessages", "abc", `option "batchingMaxMessages" must be an integer, got "abc"`},
		{"batchingMaxMessages", "1.5", `must be an integer, got "1.5"`},
		{"batchingMaxMessages", "0", `must be between 1 and 1048576, got 0`},
		{"disableBatching", "maybe", `must be true or false, got "maybe"`},
		{"properties", "{", `must be a JSON object of strings`},
	} {
		if err := SetOption(tc.k, tc.v, &c, &p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetOption(%s, %q) = %v; want %q", tc.k, tc.v, err, tc.want)
		}
	}
}

func TestOptionTableIsComplete(t *testing.T) {
	names := map[string]bool{}
	for i := range OptionTable {
		o := &OptionTable[i]
		if names[o.Name] {
			t.Errorf("option %s listed twice", o.Name)
		}
		names[o.Name] = true
		if o.Doc == "" || o.Default == "" || o.GoName == "" || o.field == nil {
			t.Errorf("option %s is missing a field", o.Name)
		}
		if strings.ToLower(o.Name[:1])+o.Name[1:] != o.Name || !strings.EqualFold(o.GoName, o.Name) && o.GoName != "InitialSequenceID" {
			t.Errorf("option %s does not match its Go name %s", o.Name, o.GoName)
		}
		if o.Type == OptEnum && o.Values[0] != o.Default {
			t.Errorf("option %s: the zero value %s is not the default %s", o.Name, o.Values[0], o.Default)
		}
		if (o.Type == OptInteger || o.Type == OptMilliseconds) && o.Min > o.Max {
			t.Errorf("option %s: empty range", o.Name)
		}
	}
	if got := (&OptionSpec{Name: "batchingMaxPublishDelay"}).SnakeName(); got != "batching_max_publish_delay" {
		t.Fatal(got)
	}
}

// TestDefaultsMatchTable resolves zero-value options and compares every
// default with the table's Default.
func TestDefaultsMatchTable(t *testing.T) {
	c, _, err := ResolveClientOptions(ClientOptions{ServiceURL: "pulsar://h"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ResolveProducerOptions(ProducerOptions{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range OptionTable {
		o := &OptionTable[i]
		f := o.field(&c, &p)
		var got string
		switch o.Type {
		case OptInteger, OptMilliseconds:
			n, set := getInt(f)
			if !set {
				got = "unset"
			} else {
				got = strconv.FormatInt(n/o.unit(), 10)
			}
			if _, err := strconv.ParseInt(o.Default, 10, 64); err != nil && got == "unset" {
				continue // a described default: nothing set
			}
			if got == "unset" {
				got = "0"
			}
		case OptBoolean:
			switch b := f.(type) {
			case *bool:
				got = strconv.FormatBool(*b)
			case **bool:
				got = strconv.FormatBool(**b)
			}
		case OptEnum:
			n, _ := getInt(f)
			got = o.Values[n]
		case OptString:
			if s := *f.(*string); s != "" {
				t.Errorf("option %s resolves to %q, documented default %q", o.Name, s, o.Default)
			}
			continue
		case OptStringMap:
			if m := *f.(*map[string]string); m != nil {
				t.Errorf("option %s resolves to %v, documented default %q", o.Name, m, o.Default)
			}
			continue
		case OptSchema:
			if sc := *f.(**Schema); sc != nil {
				t.Errorf("option %s resolves to %+v, documented default %q", o.Name, sc, o.Default)
			}
			continue
		}
		if got != o.Default {
			t.Errorf("option %s resolves to %s, the table says %s", o.Name, got, o.Default)
		}
	}
}

// TestFieldCommentsMatchTable keeps each Go field's comment equal to its
// row: "<Field> <doc> Defaults to <default>."
func TestFieldCommentsMatchTable(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "options.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	comments := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			if len(fld.Names) == 1 && fld.Doc != nil {
				comments[ts.Name.Name+"."+fld.Names[0].Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
			}
		}
		return true
	})
	for i := range OptionTable {
		o := &OptionTable[i]
		strct := "ClientOptions."
		if o.Scope == ScopeProducer {
			strct = "ProducerOptions."
		}
		want := o.GoName + " " + strings.ToLower(o.Doc[:1]) + o.Doc[1:] + " Defaults to " + o.DefaultText() + "."
		if got := comments[strct+o.GoName]; got != want {
			t.Errorf("comment of %s%s:\n got: %s\nwant: %s", strct, o.GoName, got, want)
		}
	}
}

func TestAppendOptionsJSONRoundTrip(t *testing.T) {
	seq := int64(-1)
	c := ClientOptions{ConnectionTimeout: 1500 * time.Millisecond, MemoryLimitBytes: -1, ListenerName: "x\"y", LogLevel: LogError}
	p := ProducerOptions{SendTimeout: -time.Nanosecond, InitialSequenceID: &seq, Properties: map[string]string{"b": "1", "a": "2"},
		CompressionType: CompressionZSTD, BlockIfQueueFull: true, MaxPendingMessages: 3}
	cj, err := AppendOptionsJSON(nil, ScopeClient, &c, nil)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := AppendOptionsJSON(nil, ScopeProducer, nil, &p)
	if err != nil {
		t.Fatal(err)
	}
	var c2 ClientOptions
	var p2 ProducerOptions
	if err := ParseOptionsJSON(cj, &c2, nil); err != nil {
		t.Fatalf("%s: %v", cj, err)
	}
	if err := ParseOptionsJSON(pj, nil, &p2); err != nil {
		t.Fatalf("%s: %v", pj, err)
	}
	if c2.ConnectionTimeout != c.ConnectionTimeout || c2.MemoryLimitBytes != -1 || c2.ListenerName != c.ListenerName || c2.LogLevel != LogError {
		t.Fatalf("client %s -> %+v", cj, c2)
	}
	if p2.SendTimeout != -time.Millisecond || *p2.InitialSequenceID != -1 || p2.Properties["a"] != "2" ||
		p2.CompressionType != CompressionZSTD || !p2.BlockIfQueueFull || p2.MaxPendingMessages != 3 {
		t.Fatalf("producer %s -> %+v", pj, p2)
	}
	if _, err := AppendOptionsJSON(nil, ScopeClient, &ClientOptions{ConnectionTimeout: time.Microsecond}, nil); err == nil {
		t.Fatal("a sub-millisecond timeout was encoded")
	}
	if empty, _ := AppendOptionsJSON(nil, ScopeClient, &ClientOptions{}, nil); len(empty) != 0 {
		t.Fatalf("zero options encoded as %s", empty)
	}
}

func TestResolveRanges(t *testing.T) {
	cases := []struct {
		o    ClientOptions
		text string
	}{
		{ClientOptions{ServiceURL: "pulsar://h", ConnectionTimeout: -1}, "connectionTimeout"},
		{ClientOptions{ServiceURL: "pulsar://h", ConnectionTimeout: time.Microsecond}, "option connectionTimeout: must be at least 1 ms, got 1µs"},
		{ClientOptions{ServiceURL: "pulsar://h", KeepAliveInterval: time.Millisecond}, "option keepAliveInterval: must be at least 1000 ms, got 1ms"},
		{ClientOptions{ServiceURL: "pulsar://h", MaxBackoff: time.Millisecond, InitialBackoff: time.Second}, "maxBackoff"},
		{ClientOptions{ServiceURL: "pulsar://h", MaxLookupRedirects: -1}, "maxLookupRedirects"},
		{ClientOptions{ServiceURL: "pulsar://h", LogLevel: 9}, "logLevel: unknown value 9"},
		{ClientOptions{ServiceURL: "bad"}, "service URL"},
	}
	for _, c := range cases {
		if _, _, err := ResolveClientOptions(c.o); err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("ResolveClientOptions(%+v) = %v; want %q", c.o, err, c.text)
		}
	}
	if o, _, err := ResolveClientOptions(ClientOptions{ServiceURL: "pulsar://h", MemoryLimitBytes: math.MinInt64}); err != nil || o.MemoryLimitBytes != -1 {
		t.Fatalf("no memory limit: %+v %v", o.MemoryLimitBytes, err)
	}
	for _, p := range []ProducerOptions{
		{Topic: "t", BatchingMaxMessages: 1<<20 + 1},
		{Topic: "t", BatchingMaxBytes: -5},
		{Topic: "t", MaxPendingMessages: -1},
		{Topic: "t", CreateTimeout: -time.Second},
	} {
		if _, err := ResolveProducerOptions(p); CodeOf(err) != CodeInvalidConfiguration {
			t.Errorf("ResolveProducerOptions(%+v) = %v", p, err)
		}
	}
}

func TestSecretsAndDriverOptions(t *testing.T) {
	var c ClientOptions
	err := ParseOptionsJSON([]byte(`{"authToken": 12345}`), &c, nil)
	if err == nil || strings.Contains(err.Error(), "12345") || !strings.Contains(err.Error(), "not shown") {
		t.Fatalf("a mistyped secret: %v", err)
	}
	if err := ParseOptionsJSON([]byte(`{"authToken": "s3cret", "tlsValidateHostname": false, "authOAuth2": {"issuerUrl": "https://i"}}`), &c, nil); err != nil {
		t.Fatal(err)
	}
	if c.AuthToken != "s3cret" || c.TLSValidateHostname == nil || *c.TLSValidateHostname || c.AuthOAuth2["issuerUrl"] != "https://i" {
		t.Fatalf("parsed %+v", c)
	}
	// The runtime's options never go to the engine (the WASI module).
	js, err := AppendOptionsJSON(nil, ScopeClient, &c, nil)
	if err != nil || len(js) != 0 {
		t.Fatalf("driver-only options encoded: %s %v", js, err)
	}
	r, _, err := ResolveClientOptions(ClientOptions{ServiceURL: "pulsar://h"})
	if err != nil || r.TLSValidateHostname == nil || !*r.TLSValidateHostname {
		t.Fatalf("tlsValidateHostname defaults to %v (%v)", r.TLSValidateHostname, err)
	}
}

func TestAuthOptionChecks(t *testing.T) {
	for _, tc := range []struct {
		o    ClientOptions
		text string
	}{
		{ClientOptions{AuthToken: "t", AuthTokenFile: "f"}, "set only one way to authenticate, not authToken and authTokenFile"},
		{ClientOptions{AuthOAuth2: map[string]string{"issuerUrl": "https://i"}}, `key "privateKey" is required`},
		{ClientOptions{AuthOAuth2: map[string]string{"issuerUrl": "https://i", "privateKey": "p", "clientSecret": "x"}}, `key "clientSecret" is unknown`},
		{ClientOptions{TLSCertificateFilePath: "c.pem"}, "needs its key"},
	} {
		tc.o.ServiceURL = "pulsar+ssl://h"
		if _, _, err := ResolveClientOptions(tc.o); CodeOf(err) != CodeInvalidConfiguration || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%+v: %v; want %q", tc.o, err, tc.text)
		}
	}
}

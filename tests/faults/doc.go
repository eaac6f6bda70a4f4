// Package faults runs the fault scenarios of docs/RELIABILITY.md against a
// real two-broker Pulsar cluster (tests/broker/cluster.sh) and prints their
// results as a table: for each scenario, producer (Go and the C ABI) and
// deduplication setting, how many messages were sent, acknowledged and
// failed, and how many of the acknowledged ones an independent consumer
// (the official Go client) found lost, duplicated or out of order.
//
// How this works: the tests (faults_test.go and the files next to it) start
// the cluster unless it runs, put a fault-injection proxy
// (tests/faultproxy) on each broker's "external" advertised listener, and
// for each scenario start a producer process (producer/ in Go,
// testdata/faults_producer.c through the C ABI) that asks for that
// listener, so lookups and redirects send all of its data through the
// proxies. While the producer publishes numbered messages, the scenario
// kills brokers, moves topics, or has the proxies cut, stall or throttle
// connections. The producer prints every outcome; the harness then reads
// the topic back and compares.
//
// The scenarios run only when PP_FAULTS is "short" (make test) or "full"
// (make faults); otherwise they are skipped, so `go test ./...` stays fast.
// PP_FAULTS_OUT names a file to write the table into (Markdown), and
// PP_FAULTS_RUN a regular expression selecting scenarios by name.
package faults

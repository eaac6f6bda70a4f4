// Command wasi publishes a few messages through the WASI module
// (build/wasm/pulsar_producer.wasm, run by wazero) and prints their IDs.
// `make demo` runs it against the local broker.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
	"github.com/pulsar-producer/pulsar-producer/wasm"
)

func main() {
	url := flag.String("url", "pulsar://127.0.0.1:6650", "service URL")
	topic := flag.String("topic", "persistent://public/default/pp-demo", "topic")
	flag.Parse()
	if err := run(*url, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "ppwasmdemo:", err)
		os.Exit(1)
	}
}

func run(url, topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := wasm.NewClient(core.ClientOptions{ServiceURL: url})
	if err != nil {
		return err
	}
	defer client.Close()
	producer, err := client.CreateProducer(ctx, core.ProducerOptions{Topic: topic})
	if err != nil {
		return err
	}
	for i := range 3 {
		payload := fmt.Sprintf("hello from wasi #%d", i)
		id, err := producer.Send(ctx, &core.Message{Payload: []byte(payload)})
		if err != nil {
			return err
		}
		fmt.Printf("wasi: sent %-22q -> %v\n", payload, id)
	}
	return producer.Close(ctx)
}

// Command go publishes a few messages through the native Go producer and
// prints their message IDs. `make demo` runs it against the local broker.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pulsar-producer/pulsar-producer/core"
)

func main() {
	url := flag.String("url", "pulsar://127.0.0.1:6650", "service URL")
	topic := flag.String("topic", "persistent://public/default/pp-demo", "topic")
	n := flag.Int("n", 5, "messages to publish")
	flag.Parse()
	if err := run(*url, *topic, *n); err != nil {
		fmt.Fprintln(os.Stderr, "ppdemo:", err)
		os.Exit(1)
	}
}

func run(url, topic string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := core.NewClient(core.ClientOptions{ServiceURL: url})
	if err != nil {
		return err
	}
	defer client.Close()
	producer, err := client.CreateProducer(ctx, core.ProducerOptions{Topic: topic})
	if err != nil {
		return err
	}
	fmt.Printf("go: producer %q on %s\n", producer.Name(), topic)
	for i := range n {
		payload := fmt.Sprintf("hello from go #%d", i)
		id, err := producer.Send(ctx, &core.Message{Payload: []byte(payload), Properties: map[string]string{"n": fmt.Sprint(i)}})
		if err != nil {
			return err
		}
		fmt.Printf("go: sent %-22q -> %v\n", payload, id)
	}
	return producer.Close(ctx)
}

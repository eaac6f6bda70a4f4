// Command ppfakebroker runs the ack-at-once fake broker (internal/fakebroker)
// as a process of its own, for client-only benchmarks of programs in other
// languages. It prints its pulsar:// URL on the first line of stdout, then
// serves until it is signalled (SIGINT or SIGTERM), and prints what it
// received.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pulsar-producer/pulsar-producer/internal/fakebroker"
)

func main() {
	b, err := fakebroker.Listen(fakebroker.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ppfakebroker:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	fmt.Println(b.URL())
	<-sig
	st := b.Stats()
	b.Close()
	fmt.Fprintf(os.Stderr, "ppfakebroker: %d messages, %d checksum errors\n", st.Messages, st.ChecksumErrors)
}

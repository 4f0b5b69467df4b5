// Command vcd is the Virtual Company daemon: the REST API, chat and
// signaling WebSockets and AI role orchestration. See `vcd --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "vcd:", err)
		stop()
		os.Exit(1)
	}
}
